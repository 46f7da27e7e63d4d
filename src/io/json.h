/* json.h — a small JSON reader (RFC 8259) for deepc's file formats (safetensors headers, COCO
 * annotation files) and a small JSON writer into a growing buffer.
 * The reader builds a tree from a byte buffer; it does not stream and keeps numbers as double plus
 * an exact int64 when the literal is an integer.  The writer emits compact JSON with commas placed
 * for the caller; it does not pretty-print beyond the newlines the caller asks for. */
#ifndef DC_IO_JSON_H
#define DC_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum dc_json_type {
    DC_JSON_NULL, DC_JSON_BOOL, DC_JSON_NUMBER, DC_JSON_STRING, DC_JSON_ARRAY, DC_JSON_OBJECT
} dc_json_type;

typedef struct dc_json {
    dc_json_type type;
    size_t pos;             /* byte offset of the value's first character in the parsed text */
    int boolean;            /* BOOL                                                              */
    double number;          /* NUMBER                                                            */
    int is_int;             /* NUMBER written without fraction/exponent and fitting in int64     */
    int64_t integer;        /* NUMBER, valid when is_int                                          */
    char *str;              /* STRING: decoded UTF-8, NUL-terminated (no embedded NUL allowed)  */
    size_t len;             /* STRING: bytes in str                                               */
    size_t count;           /* ARRAY / OBJECT: number of items                                    */
    struct dc_json *items;  /* ARRAY / OBJECT: the values                                         */
    char **keys;            /* OBJECT: keys[i] names items[i] (decoded, NUL-terminated)          */
} dc_json;

/* Parse text[0..len) (one value, surrounded by optional whitespace).  Returns 0 and a tree in *out
 * (free with dc_json_free), or -1 with *err_pos = byte offset of the problem and a message in err.
 * Nesting deeper than 128 levels is rejected. */
int dc_json_parse(const char *text, size_t len, dc_json **out, size_t *err_pos, char *err, size_t err_n);
void dc_json_free(dc_json *v);
/* The value stored under key in an object (first match), or NULL. */
const dc_json *dc_json_get(const dc_json *obj, const char *key);
const char *dc_json_type_name(dc_json_type t);
/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
int dc_json_utf8_valid(const char *s, size_t n);

/* ------------------------------------------------------------------ writer */
/* Values are appended in document order; the writer inserts the commas.  Any failure (out of
 * memory, NaN/Inf, a string that is not UTF-8, unbalanced nesting) makes `failed` sticky: later
 * calls do nothing and dc_json_writer_finish reports it.  Deterministic: the same calls give the
 * same bytes. */
#define DC_JSON_WRITER_MAX_DEPTH 64
typedef struct dc_json_writer {
    char *buf;            /* NUL-terminated text so far (owned; dc_json_writer_take hands it over) */
    size_t len, cap;
    int depth;
    int failed;           /* 0, or 1 after the first failure                                      */
    const char *why;      /* static description of the first failure                            */
    unsigned char has_item[DC_JSON_WRITER_MAX_DEPTH]; /* per open container: an item was written */
    int after_key;
    int newline;          /* a newline is due before the next item or closing bracket            */
} dc_json_writer;
void dc_json_writer_init(dc_json_writer *w);
void dc_json_writer_free(dc_json_writer *w);
void dc_json_begin_object(dc_json_writer *w);
void dc_json_end_object(dc_json_writer *w);
void dc_json_begin_array(dc_json_writer *w);
void dc_json_end_array(dc_json_writer *w);
void dc_json_key(dc_json_writer *w, const char *key);
void dc_json_string(dc_json_writer *w, const char *s);
void dc_json_int(dc_json_writer *w, int64_t v);
/* The shortest decimal that reads back as exactly v ("%.17g" at worst); integral values in the
 * int64 range are written without a fraction ("3", not "3.0"). */
void dc_json_double(dc_json_writer *w, double v);
/* The shortest decimal that reads back (as a float) as exactly v. */
void dc_json_float(dc_json_writer *w, float v);
void dc_json_bool(dc_json_writer *w, int v);
void dc_json_null(dc_json_writer *w);
/* A newline before the next item (after its comma) or closing bracket, for readable files. */
void dc_json_newline(dc_json_writer *w);
/* 0 and the text in *text and *len (owned by the caller, free()) when the document is complete and
 * nothing failed; else -1 with a static reason in *why (may be NULL). The writer is reset. */
int dc_json_writer_take(dc_json_writer *w, char **text, size_t *len, const char **why);

#endif
