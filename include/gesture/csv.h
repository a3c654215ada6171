// Writing CSV fields with one quoting rule for every CSV file gesture writes (training_log.csv,
// eval's confusion.csv and predictions.csv, prepare's manifest.csv, compare.csv).
#ifndef GESTURE_CSV_H
#define GESTURE_CSV_H

#include <stdio.h>

// Write s to f as one field (the caller writes separators and line ends). RFC 4180: a field that
// holds sep, a double quote, CR or LF is wrapped in double quotes with each quote doubled; any
// other field is written as is. Python's csv module (QUOTE_MINIMAL, as Keras' CSVLogger uses it)
// quotes non-empty fields the same way. Write errors show in ferror(f) / fclose(f).
void csv_write_field(FILE *f, const char *s, char sep);

#endif
