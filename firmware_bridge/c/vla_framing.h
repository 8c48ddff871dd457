/* CRC-32C and COBS for the vla-lite arm protocol (PROTOCOL.md §1), plus little-endian byte helpers.
 *
 * Portable C99: no heap, no stdio, no struct casting; every multi-byte value is assembled byte by byte, so the
 * code is the same on little- and big-endian cores and on cores that fault on unaligned access. */
#ifndef VLA_FRAMING_H
#define VLA_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#define VLA_MAX_FRAME 512u                    /* unencoded bytes a sender may put in one frame: header+payload+CRC */
#define VLA_MAX_ENCODED (VLA_MAX_FRAME + 6u)  /* longest COBS frame a receiver accepts, delimiter excluded */
#define VLA_MAX_WIRE (VLA_MAX_ENCODED + 1u)   /* one encoded frame and its 0x00 delimiter: a tx buffer's size */
#define VLA_HEADER_SIZE 8u
#define VLA_CRC_SIZE 4u
#define VLA_MIN_FRAME (VLA_HEADER_SIZE + VLA_CRC_SIZE)

/* CRC-32C (Castagnoli, reflected, init and final XOR 0xFFFFFFFF). `crc` continues a previous result: pass 0 to
 * start. vla_crc32c("123456789", 9, 0) == 0xE3069283. */
uint32_t vla_crc32c(const uint8_t *data, size_t len, uint32_t crc);
/* One byte into a raw (not final-XORed) CRC register: for receivers that checksum as bytes arrive. */
uint32_t vla_crc32c_step(uint32_t reg, uint8_t byte);

/* COBS-encode len bytes into dst (no delimiter appended). Returns the encoded length, or 0 if cap is too small.
 * Needs at most len + len / 254 + 1 bytes. Matches the Python codec byte for byte (a final block that ends
 * exactly on a 254-byte cut gets no extra code byte). */
size_t vla_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap);
/* Decode one COBS block sequence (no delimiter). Returns the decoded length, or -1 for a zero byte, a code that
 * runs past the end, or a result longer than cap. */
long vla_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap);

/* A streaming frame writer: bytes go through CRC-32C and COBS on their way into `out`, so a frame is built
 * without a second buffer. Used by the message encoders; public so a vendor can add messages of a new minor. */
typedef struct {
    uint8_t *out;
    size_t cap;       /* bytes available at out */
    size_t pos;       /* next write position in out */
    size_t code_pos;  /* where the current COBS block's code byte goes */
    size_t raw_len;   /* unencoded bytes so far */
    uint32_t crc;     /* raw CRC register over the unencoded bytes */
    uint8_t code;     /* current block's code: 1 + its data bytes */
    uint8_t open;     /* a block is open (its code slot reserved) */
    uint8_t failed;   /* out of room, or more than VLA_MAX_FRAME unencoded bytes */
} vla_writer;

void vla_writer_begin(vla_writer *w, uint8_t *out, size_t cap);
void vla_writer_u8(vla_writer *w, uint8_t v);
void vla_writer_u16(vla_writer *w, uint16_t v);
void vla_writer_u32(vla_writer *w, uint32_t v);
void vla_writer_u64(vla_writer *w, uint64_t v);
void vla_writer_f32(vla_writer *w, float v);
/* Appends the CRC, closes COBS and writes the 0x00 delimiter. Returns the wire length, or 0 if the frame did not
 * fit (cap, or VLA_MAX_FRAME). */
size_t vla_writer_end(vla_writer *w);

/* Little-endian loads and stores on byte arrays (no alignment needed). */
uint16_t vla_get_u16(const uint8_t *p);
uint32_t vla_get_u32(const uint8_t *p);
uint64_t vla_get_u64(const uint8_t *p);
float vla_get_f32(const uint8_t *p);
void vla_put_u32(uint8_t *p, uint32_t v);
/* f32 <-> its IEEE-754 bit pattern, without pointer casts. */
uint32_t vla_f32_bits(float v);
float vla_f32_from_bits(uint32_t bits);
/* 1 when v is neither NaN nor ±Inf (bit test: needs no libm). */
int vla_f32_finite(float v);

#endif
