// CSV field quoting (see gesture/csv.h).
#include "gesture/csv.h"

#include <string.h>

void csv_write_field(FILE *f, const char *s, char sep) {
    const char special[] = {sep, '"', '\r', '\n', '\0'};
    if (!strpbrk(s, special)) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
