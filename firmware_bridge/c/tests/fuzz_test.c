/* Fuzz the parser and codec in C (run under ASan/UBSan by pytest): random messages of every type, encoded, then
 * fed byte by byte clean, bit-flipped, truncated, spliced and between random garbage.
 *
 *   fuzz_test <seed> <cases>
 *
 * Invariants: every clean frame after a delimiter is delivered and decodes to what was sent (checked by encoding
 * the delivered message again: byte-identical frame); nothing else is ever delivered (no corrupted message, no
 * message from garbage, no foreign version); every byte is counted; COBS round-trips at every length around the
 * 254-byte block size. Prints one summary line; exit status 1 on any violation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vla_lite.h"

static uint64_t rng_state;

static uint32_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }

static uint8_t text_pool[VLA_MAX_JOINTS + 2][VLA_MAX_STR];
static vla_joint_info joint_pool[VLA_MAX_JOINTS];

static vla_str rnd_str(int slot, uint32_t max_len) {
    vla_str s;
    uint32_t i, n = below(max_len + 1);
    for (i = 0; i < n; i++) text_pool[slot][i] = (uint8_t)(0x20 + below(95)); /* printable ASCII */
    s.data = text_pool[slot];
    s.len = (uint8_t)n;
    return s;
}

static float rnd_f32(void) {
    switch (below(4)) {
    case 0: return 0.0f;
    case 1: return (float)below(2001) / 1000.0f - 1.0f;
    default: return vla_f32_from_bits(rnd()); /* any bit pattern, NaN payloads included */
    }
}

static void rnd_msg(vla_msg *m) {
    uint8_t i, n;
    memset(m, 0, sizeof *m);
    m->type = (uint8_t)(1 + below(9));
    switch (m->type) {
    case VLA_HELLO:
        m->u.hello.schema_hash = below(2) ? VLA_SCHEMA_HASH : rnd();
        m->u.hello.client = rnd_str(0, VLA_MAX_STR);
        break;
    case VLA_HELLO_ACK: {
        vla_hello_ack *a = &m->u.hello_ack;
        a->schema_hash = rnd();
        a->fw_major = (uint8_t)rnd();
        a->modes = (uint8_t)below(8);
        a->max_rate_hz = rnd_f32();
        a->watchdog_ms = (uint16_t)rnd();
        a->n_joints = (uint8_t)(1 + below(16)); /* 16 joints of 6-byte names fill ~500 bytes */
        a->name = rnd_str(0, 16);
        for (i = 0; i < a->n_joints; i++) {
            joint_pool[i].name = rnd_str(1 + i, 6);
            joint_pool[i].unit = (uint8_t)below(2);
            joint_pool[i].pos_min = rnd_f32();
            joint_pool[i].effort_max = rnd_f32();
        }
        a->joints = joint_pool;
        break;
    }
    case VLA_COMMAND:
        m->u.command.mode = (uint8_t)rnd();
        m->u.command.n = n = (uint8_t)below(VLA_MAX_JOINTS + 1);
        m->u.command.valid_ms = (uint16_t)rnd();
        for (i = 0; i < n; i++) m->u.command.target[i] = rnd_f32();
        break;
    case VLA_STATE:
        m->u.state.ack_seq = rnd();
        m->u.state.time_us = ((uint64_t)rnd() << 32) | rnd();
        m->u.state.status = (uint16_t)rnd();
        m->u.state.n = n = (uint8_t)below(VLA_MAX_JOINTS + 1);
        for (i = 0; i < n; i++) {
            m->u.state.position[i] = rnd_f32();
            m->u.state.velocity[i] = rnd_f32();
            m->u.state.effort[i] = rnd_f32();
        }
        break;
    case VLA_CLEAR_FAULT: m->u.clear_fault_mask = (uint16_t)rnd(); break;
    case VLA_TORQUE: m->u.torque_enable = (uint8_t)below(2); break;
    case VLA_LOG:
        m->u.log.level = (uint8_t)below(4);
        m->u.log.code = (uint16_t)rnd();
        m->u.log.text = rnd_str(0, VLA_MAX_STR);
        break;
    default: break;
    }
}

static vla_parser parser;
static uint8_t sent[VLA_MAX_WIRE];
static size_t sent_len;
static unsigned long fed, delivered, corrupted, foreign, clean_sent, clean_missed, encode_failed;

/* Feed bytes; every delivery must be the frame that was sent. Returns how many messages were delivered. */
static unsigned long feed(const uint8_t *b, size_t n) {
    static uint8_t again[VLA_MAX_WIRE];
    unsigned long got = 0;
    size_t i, len;
    for (i = 0; i < n; i++) {
        vla_parse_result r = vla_parser_feed_byte(&parser, b[i]);
        fed++;
        if (r == VLA_PARSE_FOREIGN) foreign++;
        if (r != VLA_PARSE_MESSAGE) continue;
        got++;
        delivered++;
        len = vla_encode_msg(again, sizeof again, &parser.header, &parser.msg);
        if (len != sent_len || memcmp(again, sent, len) != 0) corrupted++;
    }
    return got;
}

static void garbage(size_t max_len) {
    static uint8_t g[1400];
    size_t i, n = below((uint32_t)max_len + 1);
    for (i = 0; i < n; i++) g[i] = below(32) ? (uint8_t)rnd() : 0; /* zeros often: many short frames */
    feed(g, n);
}

static int cobs_round_trips(void) {
    static uint8_t src[1100], enc[1200], dec[1100];
    size_t len, n;
    long back;
    for (len = 0; len < 1100; len += (len < 270 || (len > 500 && len < 520) ? 1 : 37)) {
        for (n = 0; n < len; n++) src[n] = below(4) ? (uint8_t)(1 + below(255)) : 0;
        if (len % 3 == 0) memset(src, 0x01, len); /* long runs without a zero: 0xFF blocks */
        n = vla_cobs_encode(src, len, enc, sizeof enc);
        if (n == 0 || memchr(enc, 0, n) || n > len + len / 254 + 1) return 0;
        back = vla_cobs_decode(enc, n, dec, sizeof dec);
        if (back != (long)len || memcmp(src, dec, len) != 0) return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    static vla_msg msg;
    static uint8_t buf[VLA_MAX_WIRE];
    unsigned long cases, c;
    int cobs_ok;
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_test <seed> <cases>\n");
        return 2;
    }
    rng_state = strtoull(argv[1], NULL, 10) * 0x9E3779B97F4A7C15ULL + 1;
    cases = strtoul(argv[2], NULL, 10);
    cobs_ok = cobs_round_trips();
    vla_parser_init(&parser);
    for (c = 0; c < cases; c++) {
        size_t i, k;
        rnd_msg(&msg);
        sent_len = vla_encode_msg(sent, sizeof sent, &(vla_header){1, 0, 0, 0, rnd()}, &msg);
        if (sent_len == 0) {
            encode_failed++;
            continue;
        }
        memcpy(buf, sent, sent_len);
        switch (c % 4) {
        case 0: /* garbage, a delimiter, the clean frame: it must arrive */
            garbage(1300);
            feed((const uint8_t *)"", 1);
            clean_sent++;
            if (feed(buf, sent_len) != 1) clean_missed++;
            break;
        case 1: /* 1 to 8 bit flips anywhere, then a delimiter */
            for (k = 1 + below(8); k > 0; k--) buf[below((uint32_t)sent_len)] ^= (uint8_t)(1u << below(8));
            feed(buf, sent_len);
            feed((const uint8_t *)"", 1);
            break;
        case 2: /* truncated, or a byte dropped from the middle */
            i = below((uint32_t)sent_len - 1);
            if (below(2)) {
                memmove(buf + i, buf + i + 1, sent_len - i - 1);
                feed(buf, sent_len - 1);
            } else {
                feed(buf, i);
                feed((const uint8_t *)"", 1);
            }
            break;
        default: /* pure garbage */
            garbage(1300);
            feed((const uint8_t *)"", 1);
            break;
        }
    }
    printf("cases %lu bytes %lu delivered %lu corrupted %lu foreign %lu clean_sent %lu clean_missed %lu "
           "encode_failed %lu dropped %lu cobs_round_trip %d bytes_counted %d\n", cases, fed, delivered, corrupted,
           foreign, clean_sent, clean_missed, encode_failed, (unsigned long)vla_parser_dropped(&parser.stats),
           cobs_ok, parser.stats.bytes == (uint32_t)fed);
    return (corrupted || foreign || clean_missed || encode_failed || !cobs_ok || parser.stats.bytes != (uint32_t)fed)
               ? 1 : 0;
}
