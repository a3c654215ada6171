// The integrity stamp of the HDF5 files gesture writes (checkpoints, log.h5, backbone files): the
// first 512 bytes of each are an HDF5 user block (h5py, HDFView and libhdf5 skip it and find the
// superblock after it) holding a text header with the length and CRC-32 (zlib) of everything after
// it. The stamp is checked before libhdf5 parses a byte, so a file damaged after it was written is
// "damaged", never a libhdf5 crash or hang; files without the stamp (from Keras, or an older gesture)
// go through the forked probe instead (h5util.c).
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "gesture/errors.h"

static const char MAGIC[] = "GESTURE-HDF5-CRC32\n";

static uint32_t crc_of(uint32_t crc, const unsigned char *p, size_t n) {
    while (n > 0) {  // zlib's crc32 takes a uInt length
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return crc;
}

void h5sum_header(unsigned char *block, const unsigned char *image, size_t n) {
    uint32_t crc = crc_of((uint32_t)crc32(0, NULL, 0), image, n);
    memset(block, 0, H5SUM_BLOCK);
    snprintf((char *)block, H5SUM_BLOCK, "%sversion 1\nbytes %zu\ncrc32 %08" PRIx32 "\n", MAGIC, n, crc);
}

// The stamp's length and CRC from the first block; 0 when it holds no stamp.
static int parse_stamp(size_t *bytes, uint32_t *crc, const char *block) {
    if (strncmp(block, MAGIC, sizeof MAGIC - 1) != 0) return 0;
    unsigned long long b = 0;
    unsigned int c = 0;
    if (sscanf(block + sizeof MAGIC - 1, "version 1\nbytes %llu\ncrc32 %8x\n", &b, &c) != 2) return -1;
    *bytes = (size_t)b;
    *crc = c;
    return 1;
}

int h5sum_verify(const char *path, const char *damaged) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return gs_error("%s: %s", path, strerror(errno));
    char block[H5SUM_BLOCK + 1] = {0};
    ssize_t got = pread(fd, block, H5SUM_BLOCK, 0);
    size_t want = 0;
    uint32_t crc_want = 0;
    int stamped = got == H5SUM_BLOCK ? parse_stamp(&want, &crc_want, block) : 0;
    if (stamped <= 0) {
        close(fd);
        return stamped < 0 ? gs_error("%s %s (its integrity header is unreadable)", path, damaged) : 0;
    }
    size_t n = 0, cap = 1 << 20;
    unsigned char *buf = gs_malloc(cap);
    uint32_t crc = (uint32_t)crc32(0, NULL, 0);
    int err = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, cap, (off_t)(H5SUM_BLOCK + n));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) err = errno;
        if (r <= 0) break;
        crc = crc_of(crc, buf, (size_t)r);
        n += (size_t)r;
    }
    free(buf);
    close(fd);
    if (err) return gs_error("%s: read error: %s", path, strerror(err));
    if (n != want)
        return gs_error("%s %s (%zu bytes after its header, %zu when written: truncated or appended to)", path,
                        damaged, n, want);
    if (crc != crc_want)
        return gs_error("%s %s (checksum mismatch: CRC-32 %08" PRIx32 ", %08" PRIx32 " when written)", path, damaged,
                        crc, crc_want);
    return 1;
}
