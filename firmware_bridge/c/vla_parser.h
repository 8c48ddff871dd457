/* Byte-at-a-time frame parser (PROTOCOL.md §1): feed every received byte, act when a frame is ready.
 *
 * Constant work per byte (COBS is undone and the CRC accumulated as bytes arrive) except at a delimiter, where
 * a complete frame's payload (at most ~500 bytes) is decoded. No heap, no stdio, no locks: one parser belongs to
 * one context. It may run in a UART interrupt; the message it returns lives in the parser and is overwritten by
 * the next byte, so handle it (or copy what you need) before feeding more. Every frame that is not delivered is
 * counted under exactly one reason, as in protocol.Decoder. */
#ifndef VLA_PARSER_H
#define VLA_PARSER_H

#include <stdint.h>

#include "vla_protocol.h"

#define VLA_MAX_DECODED (VLA_MAX_ENCODED - 1u) /* COBS of n bytes decodes to at most n - 1 */

typedef struct {
    uint32_t frames;          /* messages delivered (VLA_PARSE_MESSAGE) */
    uint32_t bytes;           /* every byte fed */
    uint32_t overflow;        /* encoded frame longer than VLA_MAX_ENCODED */
    uint32_t cobs_errors;     /* a COBS block ran past the delimiter */
    uint32_t short_frames;    /* fewer than 12 unencoded bytes */
    uint32_t crc_failures;
    uint32_t bad_payload;     /* payload length or content wrong for its type */
    uint32_t unknown_type;    /* our major, a type we do not know (a newer minor): ignored */
    uint32_t foreign_version; /* delivered as VLA_PARSE_FOREIGN, also counted here */
} vla_parser_stats;

typedef enum {
    VLA_PARSE_NONE = 0,    /* nothing complete yet (or a frame was dropped and counted) */
    VLA_PARSE_MESSAGE = 1, /* p->header and p->msg hold a valid message of our major */
    VLA_PARSE_FOREIGN = 2  /* p->header holds a CRC-valid frame of another major; p->msg is not valid */
} vla_parse_result;

typedef struct {
    vla_header header;
    vla_msg msg;
    vla_parser_stats stats;
    /* internal */
    uint8_t frame[VLA_MAX_DECODED]; /* the unencoded frame so far */
    uint16_t len;                   /* bytes in frame */
    uint16_t enc_len;               /* encoded bytes since the last delimiter */
    uint32_t crc;                   /* raw CRC register over frame[0 .. len-4): the last 4 may be the CRC */
    uint8_t block_left;             /* data bytes still due in the current COBS block */
    uint8_t block_code;             /* the current block's code byte */
    uint8_t skipping;               /* overflowed: ignore bytes until the next delimiter */
} vla_parser;

void vla_parser_init(vla_parser *p);
vla_parse_result vla_parser_feed_byte(vla_parser *p, uint8_t byte);
/* Drops a half-received frame (e.g. after a UART framing error); counters are kept. */
void vla_parser_reset(vla_parser *p);
/* Frames dropped for any reason (foreign-version frames are delivered, so not counted). */
uint32_t vla_parser_dropped(const vla_parser_stats *s);

#endif
