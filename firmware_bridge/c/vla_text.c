/* The bounded text builder. %.6g is done by hand: a firmware without printf's float support still names values
 * in its LOG texts. */
#include "vla_text.h"

#include "vla_framing.h"

void vla_text_init(vla_text *t, char *buf, size_t cap) {
    t->buf = buf;
    t->cap = cap;
    t->len = 0;
    if (cap) buf[0] = '\0';
}

static void put(vla_text *t, char c) {
    if (t->len + 1 < t->cap) {
        t->buf[t->len++] = c;
        t->buf[t->len] = '\0';
    }
}

void vla_text_str(vla_text *t, const char *s) {
    while (*s) put(t, *s++);
}

void vla_text_bytes(vla_text *t, const uint8_t *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) put(t, (char)s[i]);
}

void vla_text_u32(vla_text *t, uint32_t v) {
    char d[10];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) put(t, d[--n]);
}

void vla_text_hex32(vla_text *t, uint32_t v) {
    int shift;
    vla_text_str(t, "0x");
    for (shift = 28; shift >= 0; shift -= 4) put(t, "0123456789ABCDEF"[(v >> shift) & 15u]);
}

void vla_text_f32(vla_text *t, float v) {
    uint32_t bits = vla_f32_bits(v), n;
    double x = (double)v, scale = 1.0;
    char d[6];
    int e = 0, i, last;
    if (!vla_f32_finite(v)) {
        vla_text_str(t, (bits & 0x007FFFFFUL) ? "nan" : (bits >> 31) ? "-inf" : "inf");
        return;
    }
    if (bits >> 31) {
        put(t, '-');
        x = -x;
    }
    if (x == 0.0) {
        put(t, '0');
        return;
    }
    /* x = m * 10^e with 1 <= m < 10, by exact powers of ten (one rounding), then 6 significant digits. */
    if (x >= 1.0) {
        while (x >= scale * 10.0) { scale *= 10.0; e++; }
        x /= scale;
    } else {
        while (x * scale < 1.0) { scale *= 10.0; e--; }
        x *= scale;
    }
    n = (uint32_t)(x * 100000.0 + 0.5);
    if (n >= 1000000u) { n /= 10u; e++; }
    for (i = 5; i >= 0; i--) { d[i] = (char)('0' + n % 10u); n /= 10u; }
    for (last = 5; last > 0 && d[last] == '0'; last--) {} /* %g drops trailing zeros */
    if (e < -4 || e >= 6) {
        put(t, d[0]);
        if (last > 0) put(t, '.');
        for (i = 1; i <= last; i++) put(t, d[i]);
        put(t, 'e');
        put(t, e < 0 ? '-' : '+');
        if (e < 0) e = -e;
        if (e < 10) put(t, '0');
        vla_text_u32(t, (uint32_t)e);
    } else if (e >= 0) {
        for (i = 0; i <= e; i++) put(t, d[i]);
        if (last > e) put(t, '.');
        for (i = e + 1; i <= last; i++) put(t, d[i]);
    } else {
        vla_text_str(t, "0.");
        for (i = -1; i > e; i--) put(t, '0');
        for (i = 0; i <= last; i++) put(t, d[i]);
    }
}

size_t vla_text_end(vla_text *t) {
    size_t i = t->len, need;
    uint8_t lead;
    if (i == 0) return 0;
    do { i--; } while (i > 0 && ((uint8_t)t->buf[i] & 0xC0u) == 0x80u); /* back to the last lead byte */
    lead = (uint8_t)t->buf[i];
    need = lead < 0x80u ? 1u : lead >= 0xF0u ? 4u : lead >= 0xE0u ? 3u : 2u;
    if (i + need > t->len) { /* cut inside that character */
        t->len = i;
        t->buf[i] = '\0';
    }
    return t->len;
}
