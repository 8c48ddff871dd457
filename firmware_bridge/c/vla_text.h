/* A bounded text builder for LOG texts and configuration errors: no stdio, no heap. Text that does not fit is
 * cut (at a UTF-8 character boundary when finished with vla_text_end), never written past cap. */
#ifndef VLA_TEXT_H
#define VLA_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buf;
    size_t cap; /* bytes at buf, including the terminating NUL */
    size_t len;
} vla_text;

void vla_text_init(vla_text *t, char *buf, size_t cap);
void vla_text_str(vla_text *t, const char *s);
void vla_text_bytes(vla_text *t, const uint8_t *s, size_t n);
void vla_text_u32(vla_text *t, uint32_t v);
void vla_text_hex32(vla_text *t, uint32_t v); /* 0x%08X */
void vla_text_f32(vla_text *t, float v);      /* like printf("%.6g"), and "nan", "inf", "-inf" */
/* Drops a partial UTF-8 sequence left at the end by truncation; returns the length. */
size_t vla_text_end(vla_text *t);

#endif
