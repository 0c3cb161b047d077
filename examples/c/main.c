/* refups_c CASE_DIR OUT_DIR: run the C Upsampling on one case of refups'
 * golden suite.
 *
 * Reads CASE_DIR/case.txt, the latents it lists and the parameters written in
 * it; writes OUT_DIR/output.npy and, for every transition computed,
 * OUT_DIR/transition_<idx>.upsampled.npy and .prefiltered.npy.
 * Exit status 0 on success; otherwise 1 (2 for wrong usage) and one line on
 * stderr.
 *
 * case.txt is line based: a keyword, then tokens separated by single spaces;
 * a list is written as its length followed by its items. Numbers are decimal
 * integers or C99 hex floats, which strtod reads exactly. For example:
 *
 *   refups-case 1
 *   ups_k_size 4
 *   latent 0 latent_0.npy 4 1 1 2 6
 *   param conv_transpose2ds.0.parametrizations.weight.original 2 0x1p-2 0x1.8p-1
 *   end
 *
 * Keywords this program does not use (id, profiles, flags, clauses, stage,
 * and any added later) are skipped, so the format can grow.
 */
#if defined(__unix__) || defined(__APPLE__)
#define _POSIX_C_SOURCE 200809L /* for mkdir */
#include <sys/stat.h>
#include <sys/types.h>
#define HAVE_MKDIR 1
#endif

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "upsampling.h"

#define MAX_LEVELS 64  /* latent levels in one case */
#define MAX_KERNELS 64 /* filters of one kind */
#define ERR_SIZE 1024

/* Everything case.txt says that the computation needs. */
typedef struct {
    int ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel, n_levels; /* -1: not given */
    char *latent_file[MAX_LEVELS];
    int latent_ndim[MAX_LEVELS];
    size_t latent_shape[MAX_LEVELS][NPY_MAX_DIMS];
    double *ups_half[MAX_KERNELS]; /* conv_transpose2ds.<i>.parametrizations.weight.original */
    int ups_half_length[MAX_KERNELS];
    double *preconcat_half[MAX_KERNELS]; /* conv2ds.<i>.parametrizations.weight.original */
    int preconcat_half_length[MAX_KERNELS];
} Case;

static void die(const char *format, ...)
{
    va_list args;

    fputs("refups_c: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(EXIT_FAILURE);
}

static void *checked_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        die("out of memory");
    return p;
}

static char *join_path(const char *dir, const char *name)
{
    char *path = checked_malloc(strlen(dir) + 1 + strlen(name) + 1);

    sprintf(path, "%s/%s", dir, name);
    return path;
}

/* ---- Reading case.txt -------------------------------------------------------- */

/* The next line of file without its line ending, in *line (grown as needed);
 * 0 at the end of the file. */
static int read_line(FILE *file, char **line, size_t *capacity)
{
    size_t length = 0;
    int c;

    while ((c = fgetc(file)) != EOF && c != '\n') {
        if (length + 2 > *capacity) {
            *capacity = *capacity ? 2 * *capacity : 256;
            *line = realloc(*line, *capacity);
            if (*line == NULL)
                die("out of memory");
        }
        (*line)[length++] = (char)c;
    }
    if (c == EOF && length == 0)
        return 0;
    if (*line == NULL) { /* an empty first line */
        *capacity = 256;
        *line = checked_malloc(*capacity);
    }
    if (length > 0 && (*line)[length - 1] == '\r')
        length--;
    (*line)[length] = '\0';
    return 1;
}

/* Split line in place at spaces; *count tokens in *tokens (grown as needed). */
static void split(char *line, char ***tokens, size_t *capacity, int *count)
{
    char *token;

    *count = 0;
    for (token = strtok(line, " \t"); token != NULL; token = strtok(NULL, " \t")) {
        if ((size_t)*count == *capacity) {
            *capacity = *capacity ? 2 * *capacity : 64;
            *tokens = realloc(*tokens, *capacity * sizeof **tokens);
            if (*tokens == NULL)
                die("out of memory");
        }
        (*tokens)[(*count)++] = token;
    }
}

static int parse_int(const char *token, int *value)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(token, &end, 10);
    if (end == token || *end != '\0' || errno == ERANGE || v < INT_MIN || v > INT_MAX)
        return 0;
    *value = (int)v;
    return 1;
}

static int parse_double(const char *token, double *value)
{
    char *end;

    *value = strtod(token, &end);
    return end != token && *end == '\0';
}

/* i if name is "<kind>.<i>.parametrizations.weight.original", else -1;
 * an index past the limit reads as MAX_KERNELS. */
static int kernel_index(const char *name, const char *kind)
{
    const char *suffix = ".parametrizations.weight.original";
    size_t n = strlen(kind);
    int i = 0;

    if (strncmp(name, kind, n) != 0 || name[n] != '.')
        return -1;
    name += n + 1;
    if (*name < '0' || *name > '9')
        return -1;
    for (; *name >= '0' && *name <= '9'; name++)
        if (i < MAX_KERNELS)
            i = 10 * i + (*name - '0');
    if (strcmp(name, suffix) != 0)
        return -1;
    return i < MAX_KERNELS ? i : MAX_KERNELS;
}

/* Where an error in case.txt is reported: "<path>:<line>: ". */
static const char *where_path;
static int where_line;

static int int_token(char **tokens, int index)
{
    int value;

    if (!parse_int(tokens[index], &value))
        die("%s:%d: '%s' is not an integer", where_path, where_line, tokens[index]);
    return value;
}

static void need_tokens(int count, int expected, const char *keyword)
{
    if (count != expected)
        die("%s:%d: '%s' line has %d tokens; its counts say %d", where_path, where_line, keyword, count,
            expected);
}

static void read_param(Case *c, char **tokens, int count)
{
    const char *name;
    int n, i, index;
    double *values;

    if (count < 3)
        die("%s:%d: 'param' needs a name and a value count", where_path, where_line);
    name = tokens[1];
    n = int_token(tokens, 2);
    if (n < 0)
        die("%s:%d: negative value count %d", where_path, where_line, n);
    need_tokens(count, 3 + n, "param");

    values = checked_malloc((size_t)n * sizeof(double));
    for (i = 0; i < n; i++)
        if (!parse_double(tokens[3 + i], &values[i]))
            die("%s:%d: '%s' is not a number", where_path, where_line, tokens[3 + i]);

    if (kernel_index(name, "conv_transpose2ds") == MAX_KERNELS || kernel_index(name, "conv2ds") == MAX_KERNELS)
        die("%s:%d: %s: filter index too large (at most %d filters of one kind)", where_path, where_line,
            name, MAX_KERNELS);
    /* Biases (and any other name) are not used: the module never applies them. */
    if ((index = kernel_index(name, "conv_transpose2ds")) >= 0) {
        if (c->ups_half[index] != NULL)
            die("%s:%d: %s is given twice", where_path, where_line, name);
        c->ups_half[index] = values;
        c->ups_half_length[index] = n;
    } else if ((index = kernel_index(name, "conv2ds")) >= 0) {
        if (c->preconcat_half[index] != NULL)
            die("%s:%d: %s is given twice", where_path, where_line, name);
        c->preconcat_half[index] = values;
        c->preconcat_half_length[index] = n;
    } else {
        free(values);
    }
}

static void read_latent(Case *c, char **tokens, int count)
{
    int level, ndim, d;

    if (count < 4)
        die("%s:%d: 'latent' needs a level, a file and a shape", where_path, where_line);
    level = int_token(tokens, 1);
    ndim = int_token(tokens, 3);
    if (level < 0 || level >= MAX_LEVELS)
        die("%s:%d: latent level %d is outside 0..%d", where_path, where_line, level, MAX_LEVELS - 1);
    if (ndim < 0 || ndim > NPY_MAX_DIMS)
        die("%s:%d: rank %d is outside 0..%d", where_path, where_line, ndim, NPY_MAX_DIMS);
    need_tokens(count, 4 + ndim, "latent");
    if (c->latent_file[level] != NULL)
        die("%s:%d: latent level %d is given twice", where_path, where_line, level);

    c->latent_file[level] = checked_malloc(strlen(tokens[2]) + 1);
    strcpy(c->latent_file[level], tokens[2]);
    c->latent_ndim[level] = ndim;
    for (d = 0; d < ndim; d++) {
        int size = int_token(tokens, 4 + d);
        if (size < 0)
            die("%s:%d: negative size %d", where_path, where_line, size);
        c->latent_shape[level][d] = (size_t)size;
    }
}

static void read_case(const char *path, Case *c)
{
    FILE *file = fopen(path, "r");
    char *line = NULL, **tokens = NULL;
    size_t line_capacity = 0, token_capacity = 0;
    int count, ended = 0, version;
    int *setting;

    if (file == NULL)
        die("%s: cannot open: %s", path, strerror(errno));
    memset(c, 0, sizeof *c);
    c->ups_k_size = c->ups_preconcat_k_size = c->n_ups_kernel = c->n_ups_preconcat_kernel = c->n_levels = -1;
    where_path = path;
    where_line = 0;

    while (!ended && read_line(file, &line, &line_capacity)) {
        where_line++;
        split(line, &tokens, &token_capacity, &count);
        if (where_line == 1) {
            /* The first line names the format and its version. */
            if (count != 2 || strcmp(tokens[0], "refups-case") != 0)
                die("%s:1: not a refups case file (expected 'refups-case 1')", path);
            version = int_token(tokens, 1);
            if (version != 1)
                die("%s:1: case format version %d is not supported (1 is)", path, version);
            continue;
        }
        if (count == 0)
            continue;

        setting = NULL;
        if (strcmp(tokens[0], "ups_k_size") == 0)
            setting = &c->ups_k_size;
        else if (strcmp(tokens[0], "ups_preconcat_k_size") == 0)
            setting = &c->ups_preconcat_k_size;
        else if (strcmp(tokens[0], "n_ups_kernel") == 0)
            setting = &c->n_ups_kernel;
        else if (strcmp(tokens[0], "n_ups_preconcat_kernel") == 0)
            setting = &c->n_ups_preconcat_kernel;
        else if (strcmp(tokens[0], "n_levels") == 0)
            setting = &c->n_levels;

        if (setting != NULL) {
            need_tokens(count, 2, tokens[0]);
            *setting = int_token(tokens, 1);
        } else if (strcmp(tokens[0], "latent") == 0) {
            read_latent(c, tokens, count);
        } else if (strcmp(tokens[0], "param") == 0) {
            read_param(c, tokens, count);
        } else if (strcmp(tokens[0], "end") == 0) {
            ended = 1;
        }
        /* Any other keyword: not needed here, skipped. */
    }
    if (where_line == 0)
        die("%s: is empty", path);
    if (!ended)
        die("%s: ends without its 'end' line (truncated?)", path);
    free(line);
    free(tokens);
    fclose(file);
}

/* The settings exist, every level has its latent, every filter the number of
 * values its kernel size implies (S1: a half of (k + 1) / 2). */
static void check_case(const char *path, const Case *c)
{
    int i, n_ups, n_pre;

    if (c->ups_k_size < 0 || c->ups_preconcat_k_size < 0 || c->n_ups_kernel < 0 ||
        c->n_ups_preconcat_kernel < 0 || c->n_levels < 0)
        die("%s: lacks one of ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel, "
            "n_levels", path);
    if (c->n_levels < 1 || c->n_levels > MAX_LEVELS)
        die("%s: n_levels %d is outside 1..%d", path, c->n_levels, MAX_LEVELS);
    for (i = 0; i < MAX_LEVELS; i++) {
        if (i < c->n_levels && c->latent_file[i] == NULL)
            die("%s: has no 'latent %d' line", path, i);
        if (i >= c->n_levels && c->latent_file[i] != NULL)
            die("%s: lists latent %d but n_levels is %d", path, i, c->n_levels);
    }
    if (c->n_ups_kernel > MAX_KERNELS || c->n_ups_preconcat_kernel > MAX_KERNELS)
        die("%s: more than %d filters of one kind", path, MAX_KERNELS);

    n_ups = (c->ups_k_size + 1) / 2;
    n_pre = (c->ups_preconcat_k_size + 1) / 2;
    for (i = 0; i < MAX_KERNELS; i++) {
        if (i < c->n_ups_kernel && c->ups_half[i] == NULL)
            die("%s: lacks conv_transpose2ds.%d.parametrizations.weight.original", path, i);
        if (i < c->n_ups_kernel && c->ups_half_length[i] != n_ups)
            die("%s: conv_transpose2ds.%d has %d values; ups_k_size %d needs %d", path, i,
                c->ups_half_length[i], c->ups_k_size, n_ups);
        if (i >= c->n_ups_kernel && c->ups_half[i] != NULL)
            die("%s: gives conv_transpose2ds.%d but n_ups_kernel is %d", path, i, c->n_ups_kernel);
        if (i < c->n_ups_preconcat_kernel && c->preconcat_half[i] == NULL)
            die("%s: lacks conv2ds.%d.parametrizations.weight.original", path, i);
        if (i < c->n_ups_preconcat_kernel && c->preconcat_half_length[i] != n_pre)
            die("%s: conv2ds.%d has %d values; ups_preconcat_k_size %d needs %d", path, i,
                c->preconcat_half_length[i], c->ups_preconcat_k_size, n_pre);
        if (i >= c->n_ups_preconcat_kernel && c->preconcat_half[i] != NULL)
            die("%s: gives conv2ds.%d but n_ups_preconcat_kernel is %d", path, i, c->n_ups_preconcat_kernel);
    }
}

/* Latent level `level`, checked against the shape case.txt lists for it. */
static void read_latent_file(const char *case_dir, const Case *c, int level, Tensor *y)
{
    char *path = join_path(case_dir, c->latent_file[level]);
    char err[ERR_SIZE];
    NpyArray array;
    int d, dims[4];

    if (npy_read(path, &array, err, sizeof err) != 0)
        die("%s", err);
    if (array.ndim != 4)
        die("%s: has %d dimensions; a latent is (B, C, H, W)", path, array.ndim);
    if (c->latent_ndim[level] != 4)
        die("%s: case.txt lists a %d-D shape for latent %d", path, c->latent_ndim[level], level);
    for (d = 0; d < 4; d++) {
        if (array.shape[d] != c->latent_shape[level][d])
            die("%s: dimension %d is %lu but case.txt says %lu", path, d, (unsigned long)array.shape[d],
                (unsigned long)c->latent_shape[level][d]);
        if (array.shape[d] > INT_MAX)
            die("%s: dimension %d is too large", path, d);
        dims[d] = (int)array.shape[d];
    }
    y->B = dims[0];
    y->C = dims[1];
    y->H = dims[2];
    y->W = dims[3];
    y->data = array.data; /* the tensor takes the array's values */
    free(path);
}

/* ---- Writing the results ----------------------------------------------------- */

static void write_tensor(const char *out_dir, const char *name, const Tensor *t)
{
    char *path = join_path(out_dir, name);
    char err[ERR_SIZE];
    size_t shape[4];

    shape[0] = (size_t)t->B;
    shape[1] = (size_t)t->C;
    shape[2] = (size_t)t->H;
    shape[3] = (size_t)t->W;
    if (npy_write(path, 4, shape, t->data, err, sizeof err) != 0)
        die("%s", err);
    free(path);
}

/* Create the folder path and its missing parents, like mkdir -p. */
static void make_dirs(const char *path)
{
#ifdef HAVE_MKDIR
    char *partial = checked_malloc(strlen(path) + 1);
    size_t i;

    strcpy(partial, path);
    for (i = 1; partial[i] != '\0'; i++) {
        if (partial[i] == '/') {
            partial[i] = '\0';
            mkdir(partial, 0777); /* a parent: it may well exist already */
            partial[i] = '/';
        }
    }
    if (mkdir(partial, 0777) != 0 && errno != EEXIST)
        die("%s: cannot create the folder: %s", path, strerror(errno));
    free(partial);
#else
    (void)path; /* no portable mkdir in C99: the folder must exist */
#endif
}

int main(int argc, char **argv)
{
    const char *case_dir, *out_dir;
    char *case_path, err[ERR_SIZE], name[64];
    Case c;
    Tensor latents[MAX_LEVELS], output;
    Transition transitions[MAX_LEVELS];
    UpsamplingParams params;
    int i, n_transitions;

    if (argc != 3) {
        fprintf(stderr, "usage: refups_c CASE_DIR OUT_DIR\n");
        return 2;
    }
    case_dir = argv[1];
    out_dir = argv[2];

    case_path = join_path(case_dir, "case.txt");
    read_case(case_path, &c);
    check_case(case_path, &c);
    for (i = 0; i < c.n_levels; i++)
        read_latent_file(case_dir, &c, i, &latents[i]);

    params.ups_k_size = c.ups_k_size;
    params.ups_preconcat_k_size = c.ups_preconcat_k_size;
    params.n_ups_kernel = c.n_ups_kernel;
    params.n_ups_preconcat_kernel = c.n_ups_preconcat_kernel;
    params.ups_half = (const double *const *)c.ups_half;
    params.preconcat_half = (const double *const *)c.preconcat_half;
    if (upsampling_forward(&params, latents, c.n_levels, &output, transitions, &n_transitions, err,
                           sizeof err) != 0)
        die("%s: %s", case_dir, err);

    /* Every intermediate, so that a comparison can name the first stage that differs. */
    make_dirs(out_dir);
    for (i = 0; i < n_transitions; i++) {
        sprintf(name, "transition_%d.upsampled.npy", i);
        write_tensor(out_dir, name, &transitions[i].upsampled);
        sprintf(name, "transition_%d.prefiltered.npy", i);
        write_tensor(out_dir, name, &transitions[i].prefiltered);
        tensor_free(&transitions[i].upsampled);
        tensor_free(&transitions[i].prefiltered);
    }
    write_tensor(out_dir, "output.npy", &output);

    tensor_free(&output);
    for (i = 0; i < c.n_levels; i++) {
        tensor_free(&latents[i]);
        free(c.latent_file[i]);
    }
    for (i = 0; i < MAX_KERNELS; i++) {
        free(c.ups_half[i]);
        free(c.preconcat_half[i]);
    }
    free(case_path);
    return 0;
}
