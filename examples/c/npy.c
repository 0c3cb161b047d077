/* .npy reading and writing; see npy.h for what is supported.
 *
 * The layout of a .npy file (numpy.lib.format):
 *   6 bytes  magic "\x93NUMPY"
 *   2 bytes  format version (major, minor)
 *   2 bytes  (version 1.0) or 4 bytes (2.0, 3.0): header length, little-endian
 *   header   a Python dict literal, e.g.
 *            {'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3), }
 *            padded with spaces and ended by '\n'
 *   data     the values, C order, in the byte order the descr names
 */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER_BYTES (1u << 20) /* a real header is < 1 KiB; refuse absurd lengths */

static void fail(char *err, size_t err_size, const char *path, const char *format, ...)
{
    va_list args;
    size_t used;

    snprintf(err, err_size, "%s: ", path);
    used = strlen(err);
    va_start(args, format);
    vsnprintf(err + used, err_size - used, format, args);
    va_end(args);
}

static void format_shape(char *text, size_t text_size, int ndim, const size_t *shape)
{
    size_t used = 0;
    int d;

    used += (size_t)snprintf(text, text_size, "(");
    for (d = 0; d < ndim && used < text_size; d++)
        used += (size_t)snprintf(text + used, text_size - used, "%s%lu",
                                 d ? ", " : "", (unsigned long)shape[d]);
    /* A one-element tuple needs its trailing comma in Python: (5,) */
    if (used < text_size)
        snprintf(text + used, text_size - used, "%s)", ndim == 1 ? "," : "");
}

/* Bytes to numbers, little-endian whatever the host's byte order. */
static double decode_f8(const unsigned char *bytes)
{
    uint64_t bits = 0;
    double value;
    int i;

    for (i = 7; i >= 0; i--)
        bits = (bits << 8) | bytes[i];
    memcpy(&value, &bits, sizeof value);
    return value;
}

static double decode_f4(const unsigned char *bytes)
{
    uint32_t bits = 0;
    float value;
    int i;

    for (i = 3; i >= 0; i--)
        bits = (bits << 8) | bytes[i];
    memcpy(&value, &bits, sizeof value);
    return (double)value;
}

static void encode_f8(double value, unsigned char *bytes)
{
    uint64_t bits;
    int i;

    memcpy(&bits, &value, sizeof bits);
    for (i = 0; i < 8; i++)
        bytes[i] = (unsigned char)(bits >> (8 * i));
}

/* ---- The header dict ------------------------------------------------------
 * A small cursor-based parser for exactly the literals numpy writes: quoted
 * strings, True/False, and a tuple of non-negative integers. The keys may come
 * in any order; each must appear once.
 */
typedef struct {
    const char *at, *end;
} Cursor;

static void skip_space(Cursor *c)
{
    while (c->at < c->end && (*c->at == ' ' || *c->at == '\t' || *c->at == '\n' || *c->at == '\r'))
        c->at++;
}

static int take_char(Cursor *c, char expected)
{
    skip_space(c);
    if (c->at < c->end && *c->at == expected) {
        c->at++;
        return 1;
    }
    return 0;
}

static int take_word(Cursor *c, const char *word)
{
    size_t n = strlen(word);

    skip_space(c);
    if ((size_t)(c->end - c->at) >= n && memcmp(c->at, word, n) == 0) {
        c->at += n;
        return 1;
    }
    return 0;
}

/* A '...' or "..." string (no escapes: numpy never writes any) into text. */
static int take_quoted(Cursor *c, char *text, size_t text_size)
{
    char quote;
    size_t n = 0;

    skip_space(c);
    if (c->at >= c->end || (*c->at != '\'' && *c->at != '"'))
        return 0;
    quote = *c->at++;
    while (c->at < c->end && *c->at != quote) {
        if (n + 1 >= text_size)
            return 0;
        text[n++] = *c->at++;
    }
    if (c->at >= c->end)
        return 0;
    c->at++; /* the closing quote */
    text[n] = '\0';
    return 1;
}

static int take_size(Cursor *c, size_t *value)
{
    size_t v = 0;
    int digits = 0;

    skip_space(c);
    while (c->at < c->end && *c->at >= '0' && *c->at <= '9') {
        size_t digit = (size_t)(*c->at - '0');
        if (v > ((size_t)-1 - digit) / 10)
            return 0; /* does not fit in size_t */
        v = 10 * v + digit;
        digits++;
        c->at++;
    }
    *value = v;
    return digits > 0;
}

/* (d0, d1, ..., ) with an optional trailing comma; () is a scalar. */
static int take_shape(Cursor *c, int *ndim, size_t *shape)
{
    *ndim = 0;
    if (!take_char(c, '('))
        return 0;
    while (!take_char(c, ')')) {
        if (*ndim == NPY_MAX_DIMS || !take_size(c, &shape[*ndim]))
            return 0;
        (*ndim)++;
        if (!take_char(c, ',')) {
            if (!take_char(c, ')'))
                return 0;
            break;
        }
    }
    return 1;
}

static int parse_header(const char *path, const char *text, size_t length, char *descr, size_t descr_size,
                        int *fortran_order, int *ndim, size_t *shape, char *err, size_t err_size)
{
    Cursor c;
    char key[32];
    int seen_descr = 0, seen_order = 0, seen_shape = 0;

    c.at = text;
    c.end = text + length;
    if (!take_char(&c, '{')) {
        fail(err, err_size, path, "header is not a dict: %.60s", text);
        return -1;
    }
    while (!take_char(&c, '}')) {
        if (!take_quoted(&c, key, sizeof key) || !take_char(&c, ':')) {
            fail(err, err_size, path, "header is not a valid dict: %.60s", text);
            return -1;
        }
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            seen_descr = take_quoted(&c, descr, descr_size);
            if (!seen_descr) {
                fail(err, err_size, path, "header's 'descr' is not a short string");
                return -1;
            }
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
            if (take_word(&c, "True"))
                *fortran_order = 1;
            else if (take_word(&c, "False"))
                *fortran_order = 0;
            else {
                fail(err, err_size, path, "header's 'fortran_order' is neither True nor False");
                return -1;
            }
            seen_order = 1;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            if (!take_shape(&c, ndim, shape)) {
                fail(err, err_size, path, "header's 'shape' is not a tuple of at most %d sizes",
                     NPY_MAX_DIMS);
                return -1;
            }
            seen_shape = 1;
        } else {
            fail(err, err_size, path, "header has an unexpected or repeated key '%s'", key);
            return -1;
        }
        if (!take_char(&c, ',')) {
            if (!take_char(&c, '}')) {
                fail(err, err_size, path, "header is not a valid dict: %.60s", text);
                return -1;
            }
            break;
        }
    }
    skip_space(&c);
    if (c.at != c.end) {
        fail(err, err_size, path, "header has characters after its dict");
        return -1;
    }
    if (!(seen_descr && seen_order && seen_shape)) {
        fail(err, err_size, path, "header lacks one of 'descr', 'fortran_order', 'shape'");
        return -1;
    }
    return 0;
}

/* ---- Reading --------------------------------------------------------------- */

static int read_header(FILE *file, const char *path, char *descr, size_t descr_size, int *ndim,
                       size_t *shape, char *err, size_t err_size)
{
    unsigned char preamble[8], length_bytes[4];
    size_t length_size, header_length = 0, i;
    int fortran_order = 0, status;
    char *text;

    if (fread(preamble, 1, 8, file) != 8 || memcmp(preamble, "\x93NUMPY", 6) != 0) {
        fail(err, err_size, path, "not a .npy file (no \\x93NUMPY magic)");
        return -1;
    }
    /* Versions 2.0 and 3.0 only widen the length field (3.0 allows UTF-8 in
     * the header, which never occurs for plain float arrays). */
    if (preamble[7] != 0 || preamble[6] < 1 || preamble[6] > 3) {
        fail(err, err_size, path, ".npy format version %d.%d is not supported (1.0, 2.0, 3.0 are)",
             preamble[6], preamble[7]);
        return -1;
    }
    length_size = preamble[6] == 1 ? 2 : 4;
    if (fread(length_bytes, 1, length_size, file) != length_size) {
        fail(err, err_size, path, "truncated in its header");
        return -1;
    }
    for (i = length_size; i-- > 0;)
        header_length = (header_length << 8) | length_bytes[i];
    if (header_length > MAX_HEADER_BYTES) {
        fail(err, err_size, path, "header length %lu is implausible", (unsigned long)header_length);
        return -1;
    }
    text = malloc(header_length + 1);
    if (text == NULL) {
        fail(err, err_size, path, "out of memory");
        return -1;
    }
    if (fread(text, 1, header_length, file) != header_length) {
        free(text);
        fail(err, err_size, path, "truncated in its header");
        return -1;
    }
    text[header_length] = '\0';
    status = parse_header(path, text, header_length, descr, descr_size, &fortran_order, ndim, shape, err,
                          err_size);
    free(text);
    if (status != 0)
        return -1;
    if (fortran_order) {
        fail(err, err_size, path, "is in Fortran order; only C order (fortran_order: False) is supported");
        return -1;
    }
    return 0;
}

int npy_read(const char *path, NpyArray *out, char *err, size_t err_size)
{
    FILE *file;
    char descr[16], shape_text[256];
    size_t item_size, data_bytes, got, extra = 0, i;
    unsigned char *bytes = NULL;
    int d;

    memset(out, 0, sizeof *out);
    file = fopen(path, "rb");
    if (file == NULL) {
        fail(err, err_size, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (read_header(file, path, descr, sizeof descr, &out->ndim, out->shape, err, err_size) != 0)
        goto failure;

    if (strcmp(descr, "<f8") == 0)
        item_size = 8;
    else if (strcmp(descr, "<f4") == 0)
        item_size = 4;
    else {
        fail(err, err_size, path, "dtype '%s' is not supported (only '<f8' and '<f4' are)", descr);
        goto failure;
    }

    /* The number of values, refusing shapes whose byte count overflows. */
    out->count = 1;
    for (d = 0; d < out->ndim; d++) {
        if (out->shape[d] != 0 && out->count > ((size_t)-1 / item_size) / out->shape[d]) {
            fail(err, err_size, path, "shape is too large to address");
            goto failure;
        }
        out->count *= out->shape[d];
    }
    data_bytes = out->count * item_size;
    format_shape(shape_text, sizeof shape_text, out->ndim, out->shape);

    /* +1 so that an empty array still gets a valid, freeable pointer. */
    bytes = malloc(data_bytes + 1);
    out->data = malloc(out->count * sizeof(double) + 1);
    if (bytes == NULL || out->data == NULL) {
        fail(err, err_size, path, "out of memory for shape %s", shape_text);
        goto failure;
    }
    got = fread(bytes, 1, data_bytes, file);
    if (got != data_bytes) {
        fail(err, err_size, path, "truncated: shape %s of '%s' needs %lu data bytes, the file holds %lu",
             shape_text, descr, (unsigned long)data_bytes, (unsigned long)got);
        goto failure;
    }
    while (fgetc(file) != EOF)
        extra++;
    if (extra != 0) {
        fail(err, err_size, path, "holds %lu bytes more than shape %s of '%s' needs", (unsigned long)extra,
             shape_text, descr);
        goto failure;
    }
    for (i = 0; i < out->count; i++)
        out->data[i] = item_size == 8 ? decode_f8(bytes + 8 * i) : decode_f4(bytes + 4 * i);

    free(bytes);
    fclose(file);
    return 0;

failure:
    free(bytes);
    npy_free(out);
    fclose(file);
    return -1;
}

void npy_free(NpyArray *array)
{
    free(array->data);
    array->data = NULL;
    array->count = 0;
}

/* ---- Writing --------------------------------------------------------------- */

int npy_write(const char *path, int ndim, const size_t *shape, const double *data, char *err, size_t err_size)
{
    char header[1024], shape_text[NPY_MAX_DIMS * 24 + 8];
    unsigned char preamble[10], bytes[8];
    size_t length, count = 1, i;
    FILE *file;
    int d, failed;

    if (ndim < 0 || ndim > NPY_MAX_DIMS) {
        fail(err, err_size, path, "cannot write an array of rank %d", ndim);
        return -1;
    }
    for (d = 0; d < ndim; d++)
        count *= shape[d];
    format_shape(shape_text, sizeof shape_text, ndim, shape);
    snprintf(header, sizeof header, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shape_text);

    /* Pad with spaces so that the 10-byte preamble + header + '\n' is a
     * multiple of 64 bytes: the data then start 64-byte aligned. */
    length = strlen(header);
    while ((10 + length + 1) % 64 != 0)
        header[length++] = ' ';
    header[length++] = '\n';

    memcpy(preamble, "\x93NUMPY", 6);
    preamble[6] = 1; /* version 1.0 */
    preamble[7] = 0;
    preamble[8] = (unsigned char)(length & 0xff); /* header length, little-endian */
    preamble[9] = (unsigned char)(length >> 8);

    file = fopen(path, "wb");
    if (file == NULL) {
        fail(err, err_size, path, "cannot create: %s", strerror(errno));
        return -1;
    }
    fwrite(preamble, 1, sizeof preamble, file);
    fwrite(header, 1, length, file);
    for (i = 0; i < count; i++) {
        encode_f8(data[i], bytes);
        fwrite(bytes, 1, 8, file);
    }
    /* Any failed fwrite sets the stream's error flag; fclose reports a failed flush. */
    failed = ferror(file);
    if (fclose(file) != 0)
        failed = 1;
    if (failed) {
        fail(err, err_size, path, "write failed");
        return -1;
    }
    return 0;
}
