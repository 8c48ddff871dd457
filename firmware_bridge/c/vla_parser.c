/* The byte-at-a-time parser: incremental COBS decoding and a CRC that trails the input by 4 bytes, so at the
 * delimiter only the payload decode is left to do. */
#include "vla_parser.h"

#include <string.h>

void vla_parser_reset(vla_parser *p) {
    p->len = 0;
    p->enc_len = 0;
    p->crc = 0xFFFFFFFFUL;
    p->block_left = 0;
    p->block_code = 0;
    p->skipping = 0;
}

void vla_parser_init(vla_parser *p) {
    memset(p, 0, sizeof *p);
    vla_parser_reset(p);
}

uint32_t vla_parser_dropped(const vla_parser_stats *s) {
    return s->overflow + s->cobs_errors + s->short_frames + s->crc_failures + s->bad_payload + s->unknown_type;
}

static void put(vla_parser *p, uint8_t b) {
    /* Each encoded byte yields at most one decoded byte and the first yields none, so len < VLA_MAX_DECODED
     * here; the test keeps that true even if a future change breaks the arithmetic. */
    if (p->len >= VLA_MAX_DECODED) return;
    if (p->len >= VLA_CRC_SIZE) p->crc = vla_crc32c_step(p->crc, p->frame[p->len - VLA_CRC_SIZE]);
    p->frame[p->len++] = b;
}

static vla_parse_result end_frame(vla_parser *p) {
    vla_parse_result out = VLA_PARSE_NONE;
    vla_parser_stats *s = &p->stats;
    size_t body = (size_t)p->len - VLA_CRC_SIZE;
    if (p->skipping || p->enc_len == 0) {
        /* already counted as overflow, or an empty frame: idle fill */
    } else if (p->block_left != 0) {
        s->cobs_errors++;
    } else if (p->len < VLA_MIN_FRAME) {
        s->short_frames++;
    } else if ((uint32_t)(p->crc ^ 0xFFFFFFFFUL) != vla_get_u32(p->frame + body)) {
        s->crc_failures++;
    } else {
        switch (vla_decode_body(p->frame, body, &p->header, &p->msg)) {
        case VLA_OK:
            s->frames++;
            out = VLA_PARSE_MESSAGE;
            break;
        case VLA_FOREIGN:
            s->foreign_version++;
            out = VLA_PARSE_FOREIGN;
            break;
        case VLA_ERR_UNKNOWN_TYPE:
            s->unknown_type++;
            break;
        default:
            s->bad_payload++;
            break;
        }
    }
    vla_parser_reset(p);
    return out;
}

vla_parse_result vla_parser_feed_byte(vla_parser *p, uint8_t byte) {
    p->stats.bytes++;
    if (byte == 0) return end_frame(p);
    if (p->skipping) return VLA_PARSE_NONE;
    if (p->enc_len >= VLA_MAX_ENCODED) {
        p->stats.overflow++; /* once per frame: the rest is skipped up to the delimiter */
        p->skipping = 1;
        return VLA_PARSE_NONE;
    }
    p->enc_len++;
    if (p->block_left == 0) { /* a code byte: the block before it (if short) stood for a zero */
        if (p->enc_len > 1 && p->block_code < 0xFF) put(p, 0);
        p->block_code = byte;
        p->block_left = (uint8_t)(byte - 1u);
    } else {
        put(p, byte);
        p->block_left--;
    }
    return VLA_PARSE_NONE;
}
