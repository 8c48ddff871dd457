/* CRC-32C, COBS and the streaming frame writer (PROTOCOL.md §1). */
#include "vla_framing.h"

#include <string.h>

typedef char vla_float_must_be_32_bits[(sizeof(float) == 4) ? 1 : -1];

/* CRC-32C of each 4-bit value, reflected polynomial 0x82F63B78: 64 bytes of table, two lookups per byte (a
 * middle way between a 1 KiB byte table and 8 shifts per byte; ~10 cycles per byte on a Cortex-M). */
static const uint32_t CRC_NIBBLE[16] = {
    0x00000000UL, 0x105EC76FUL, 0x20BD8EDEUL, 0x30E349B1UL, 0x417B1DBCUL, 0x5125DAD3UL, 0x61C69362UL,
    0x7198540DUL, 0x82F63B78UL, 0x92A8FC17UL, 0xA24BB5A6UL, 0xB21572C9UL, 0xC38D26C4UL, 0xD3D3E1ABUL,
    0xE330A81AUL, 0xF36E6F75UL};

uint32_t vla_crc32c_step(uint32_t reg, uint8_t byte) {
    reg ^= byte;
    reg = (reg >> 4) ^ CRC_NIBBLE[reg & 15u];
    return (reg >> 4) ^ CRC_NIBBLE[reg & 15u];
}

uint32_t vla_crc32c(const uint8_t *data, size_t len, uint32_t crc) {
    uint32_t reg = crc ^ 0xFFFFFFFFUL;
    size_t i;
    for (i = 0; i < len; i++) reg = vla_crc32c_step(reg, data[i]);
    return reg ^ 0xFFFFFFFFUL;
}

/* --- COBS, streaming: the writer reserves a code slot per block and fills it when the block closes ---------- */

static void emit(vla_writer *w, uint8_t b) {
    if (w->pos < w->cap) {
        w->out[w->pos++] = b;
    } else {
        w->failed = 1;
    }
}

static void open_block(vla_writer *w) {
    w->code_pos = w->pos;
    emit(w, 0); /* placeholder for the code byte */
    w->code = 1;
    w->open = 1;
}

static void close_block(vla_writer *w) {
    if (w->code_pos < w->cap) w->out[w->code_pos] = w->code;
    w->open = 0;
}

static void cobs_put(vla_writer *w, uint8_t b) {
    if (!w->open) open_block(w); /* lazily after a full 254-byte block: a frame ending on a cut needs no code */
    if (b == 0) {
        close_block(w);
        open_block(w);
        return;
    }
    emit(w, b);
    w->code++;
    if (w->code == 0xFF) close_block(w);
}

static void start(vla_writer *w, uint8_t *out, size_t cap) {
    w->out = out;
    w->cap = cap;
    w->pos = 0;
    w->raw_len = 0;
    w->crc = 0xFFFFFFFFUL;
    w->failed = 0;
    open_block(w); /* every encoding starts with a code byte, even of empty input */
}

size_t vla_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap) {
    vla_writer w;
    size_t i;
    start(&w, dst, cap);
    for (i = 0; i < len; i++) cobs_put(&w, src[i]);
    if (w.open) close_block(&w);
    return w.failed ? 0 : w.pos;
}

long vla_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap) {
    size_t i = 0, o = 0, k, end;
    while (i < len) {
        uint8_t code = src[i];
        if (code == 0) return -1;
        end = i + code;
        if (end > len) return -1; /* the block runs past the frame end */
        for (k = i + 1; k < end; k++) {
            if (src[k] == 0 || o >= cap) return -1;
            dst[o++] = src[k];
        }
        i = end;
        if (code < 0xFF && i < len) { /* a short block stood for a zero, unless it was the last one */
            if (o >= cap) return -1;
            dst[o++] = 0;
        }
    }
    return (long)o;
}

/* --- the frame writer ----------------------------------------------------------------------------------------- */

void vla_writer_begin(vla_writer *w, uint8_t *out, size_t cap) { start(w, out, cap); }

void vla_writer_u8(vla_writer *w, uint8_t v) {
    w->crc = vla_crc32c_step(w->crc, v);
    w->raw_len++;
    cobs_put(w, v);
}

void vla_writer_u16(vla_writer *w, uint16_t v) {
    vla_writer_u8(w, (uint8_t)(v & 0xFFu));
    vla_writer_u8(w, (uint8_t)(v >> 8));
}

void vla_writer_u32(vla_writer *w, uint32_t v) {
    vla_writer_u16(w, (uint16_t)(v & 0xFFFFu));
    vla_writer_u16(w, (uint16_t)(v >> 16));
}

void vla_writer_u64(vla_writer *w, uint64_t v) {
    vla_writer_u32(w, (uint32_t)(v & 0xFFFFFFFFUL));
    vla_writer_u32(w, (uint32_t)(v >> 32));
}

void vla_writer_f32(vla_writer *w, float v) { vla_writer_u32(w, vla_f32_bits(v)); }

size_t vla_writer_end(vla_writer *w) {
    uint32_t crc = w->crc ^ 0xFFFFFFFFUL;
    int i;
    for (i = 0; i < 4; i++) cobs_put(w, (uint8_t)((crc >> (8 * i)) & 0xFFu)); /* the CRC is not checksummed */
    w->raw_len += 4;
    if (w->open) close_block(w);
    emit(w, 0);
    return (w->failed || w->raw_len > VLA_MAX_FRAME) ? 0 : w->pos;
}

/* --- bytes ---------------------------------------------------------------------------------------------------- */

uint16_t vla_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

uint32_t vla_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint64_t vla_get_u64(const uint8_t *p) { return (uint64_t)vla_get_u32(p) | ((uint64_t)vla_get_u32(p + 4) << 32); }

float vla_get_f32(const uint8_t *p) { return vla_f32_from_bits(vla_get_u32(p)); }

void vla_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

uint32_t vla_f32_bits(float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits); /* both are 4 bytes in the same byte order: IEEE-754 cores */
    return bits;
}

float vla_f32_from_bits(uint32_t bits) {
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

int vla_f32_finite(float v) { return (vla_f32_bits(v) & 0x7F800000UL) != 0x7F800000UL; }
