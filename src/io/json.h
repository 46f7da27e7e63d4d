/* json.h — a small JSON reader (RFC 8259) for deepc's file formats (safetensors headers).
 * It builds a tree from a byte buffer; it does not write JSON, does not stream and keeps
 * numbers as double plus an exact int64 when the literal is an integer. */
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

#endif
