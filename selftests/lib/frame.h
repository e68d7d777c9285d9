/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test frames: built and sent by the host, checked byte for byte by whoever
 * receives them (a guest through its port, or the host stack).
 *
 * A frame is an Ethernet header (destination, source), up to two tags
 * (TPID + TCI each, any TPID: 0x8100, 0x88a8 or a bogus one), the
 * ethertype FRAME_ETHERTYPE, a struct frame_hdr and frame_hdr.len payload
 * bytes, byte i of which is frame_byte(stream, seq, i).  frame_hdr.csum is
 * the FNV-1a hash of the payload.  The header's fields are big-endian.
 *
 * Frames shorter than ETH_ZLEN are padded with zeros by the sending NIC;
 * the checker accepts such padding up to FRAME_PAD_MAX bytes in all.
 *
 * frame_byte(), the checker (struct frame_check) and the hash are guest
 * code: a guest checks the frames its port delivered with the very code
 * the host uses.
 */
#ifndef KPF_FRAME_H
#define KPF_FRAME_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

#define FRAME_ETHERTYPE 0x88b5 /* IEEE 802 local experimental 1 */
#define FRAME_MAGIC 0x6b706678U /* "kpfx" */
#define FRAME_ETH_HLEN 14
#define FRAME_TAG_LEN 4
#define FRAME_MAX_TAGS 2
#define FRAME_ZLEN 60 /* ETH_ZLEN: shortest frame on the wire, no FCS */
/* Padding is accepted up to this length (ETH_ZLEN plus one stripped tag). */
#define FRAME_PAD_MAX (FRAME_ZLEN + FRAME_TAG_LEN)
#define FRAME_MAX_LEN 16384
#define FRAME_TPID_8021Q 0x8100
#define FRAME_TPID_8021AD 0x88a8
#define FRAME_TPID_BOGUS 0x9100 /* a pre-standard QinQ TPID, no tag to Linux */

struct frame_hdr {
	uint32_t magic;
	uint32_t stream;
	uint32_t seq;
	uint32_t len; /* payload bytes after this header */
	uint32_t csum; /* FNV-1a of the payload */
};

#define FRAME_HDR_LEN ((uint32_t)sizeof(struct frame_hdr))
#define FRAME_HEAD_MAX \
	(FRAME_ETH_HLEN + FRAME_MAX_TAGS * FRAME_TAG_LEN + FRAME_HDR_LEN)
/* Length of a frame with @tags tags and @payload bytes (before padding). */
#define FRAME_LEN(tags, payload) \
	(FRAME_ETH_HLEN + (tags)*FRAME_TAG_LEN + FRAME_HDR_LEN + (payload))

/* One tag; tpid 0 means no tag. */
struct frame_tag {
	uint16_t tpid;
	uint16_t tci;
};

/* What frame_build() builds. */
struct frame_spec {
	uint8_t dst[6];
	uint8_t src[6];
	struct frame_tag tags[FRAME_MAX_TAGS]; /* outer first; stop at tpid 0 */
	uint32_t stream;
	uint32_t seq;
	uint32_t payload; /* bytes after the frame header */
	/* frame_send_seq(): payloads vary in [payload, payload + span) */
	uint32_t span;
};

/* Byte @i of the payload of frame @seq of @stream. */
static inline __guest uint8_t frame_byte(uint32_t stream, uint32_t seq,
					 uint32_t i)
{
	uint32_t x = stream * 0x9e3779b1U ^ seq * 0x85ebca77U ^ i * 0xc2b2ae3dU;

	return (uint8_t)(x ^ x >> 13 ^ x >> 24);
}

#define FRAME_FNV_INIT 0x811c9dc5U

static inline __guest uint32_t frame_fnv(uint32_t h, uint8_t b)
{
	return (h ^ b) * 0x01000193U;
}

/* Why a frame failed the check (frame_check.err). */
enum frame_err {
	FRAME_OK,
	FRAME_E_SHORT, /* ended inside the headers or the payload */
	FRAME_E_TYPE, /* no FRAME_ETHERTYPE after at most two tags */
	FRAME_E_MAGIC, /* frame_hdr.magic is wrong */
	FRAME_E_LEN, /* frame_hdr.len above FRAME_MAX_LEN */
	FRAME_E_PATTERN, /* a payload byte differs (at err_pos) */
	FRAME_E_CSUM, /* the payload's hash is not frame_hdr.csum */
	FRAME_E_PAD, /* bytes after the payload: non-zero, or too many */
};

/*
 * A frame checked as its bytes come in, in any number of pieces (a frame
 * a port delivered in several slots).  Zero it (or frame_check_start()),
 * feed every piece in order, then frame_check_end().
 */
struct frame_check {
	uint32_t pos; /* bytes fed */
	uint32_t type_end; /* end of the ethertype (or TPID) being parsed */
	uint32_t hdr_end; /* end of the frame header, 0 until known */
	uint32_t payload_end; /* end of the payload, 0 until known */
	uint32_t csum;
	uint32_t err; /* enum frame_err of the first problem */
	uint32_t err_pos; /* where it was seen */
	uint32_t nr_tags;
	struct frame_tag tags[FRAME_MAX_TAGS];
	struct frame_hdr hdr; /* host byte order, once hdr_end is reached */
	uint8_t head[FRAME_HEAD_MAX];
};

void __guest frame_check_start(struct frame_check *c);
void __guest frame_check_feed(struct frame_check *c, const uint8_t *p,
			      uint32_t len);
/* The frame is complete: FRAME_OK or the first enum frame_err. */
uint32_t __guest frame_check_end(struct frame_check *c);

/* Destination MAC of a checked frame (valid once pos >= 6). */
static inline __guest bool frame_check_dst_is(const struct frame_check *c,
					      const uint8_t *mac)
{
	int i;

	for (i = 0; i < 6; i++)
		if (c->head[i] != mac[i])
			return false;
	return true;
}

/* Host side. */

/* Text for an enum frame_err. */
const char *frame_strerror(uint32_t err);

/* Builds @s into @buf (@size bytes); the frame's length, 0 if too small. */
size_t frame_build(const struct frame_spec *s, uint8_t *buf, size_t size);

/* A raw socket that sends frames out of one interface. */
struct frame_tx {
	int fd;
	int ifindex;
};

/* 0 or a negative errno. */
int frame_tx_open(struct frame_tx *tx, int ifindex);
void frame_tx_close(struct frame_tx *tx);
/* Sends frame @s; 0 or a negative errno. */
int frame_send(struct frame_tx *tx, const struct frame_spec *s);
/*
 * Sends @count frames of @s's stream, seq s->seq, s->seq + 1, ..., with
 * s->payload bytes of payload, plus (seq * 211) % s->span if s->span.
 */
int frame_send_seq(struct frame_tx *tx, const struct frame_spec *s,
		   uint32_t count);

/*
 * A thread that sends frames while the test does something else: one
 * frame of each of @specs in turn (seq from each spec's seq on, payloads
 * as frame_send_seq()), @count rounds or, with @count 0, until
 * frame_sender_stop().
 */
struct frame_sender {
	struct frame_tx *tx;
	const struct frame_spec *specs;
	unsigned int nr_specs;
	uint32_t count;
	/* Written by the thread. */
	uint32_t sent; /* rounds sent so far */
	int done; /* it has stopped */
	int err; /* why, if a send failed */
	/* Private. */
	int stop;
	pthread_t thread;
};

/* 0 or a negative errno. */
int frame_sender_start(struct frame_sender *snd);
/* Stops the thread (at once, even with a @count) and returns its err. */
int frame_sender_stop(struct frame_sender *snd);

/*
 * The host-side checker: what reaches the host stack on an interface
 * after the module's rx_handler let it pass.  The sockets are bound to
 * the ethertypes the stack hands on (FRAME_ETHERTYPE, and 802.1Q/802.1ad
 * for frames whose tags it did not take off), never ETH_P_ALL: a packet
 * tap sees frames before any rx_handler.  A socket filter keeps only
 * frames with FRAME_MAGIC behind zero, one or two tags.
 */
#define FRAME_RX_MAX_STREAMS 64
#define FRAME_RX_SOCKS 4

struct frame_rx {
	int fds[FRAME_RX_SOCKS];
	uint32_t count[FRAME_RX_MAX_STREAMS]; /* frames per stream */
	uint32_t next_seq[FRAME_RX_MAX_STREAMS];
	uint32_t frames;
	uint32_t bad; /* frames that failed the check or came out of order */
	char why[128]; /* the first of them */
};

int frame_rx_open(struct frame_rx *rx, int ifindex);
void frame_rx_close(struct frame_rx *rx);
/*
 * Receives and checks frames until none came for @idle_ms; every frame
 * must pass frame_check and come in sequence within its stream.  Returns
 * the number of frames received, or a negative errno.
 */
int frame_rx_drain(struct frame_rx *rx, unsigned int idle_ms);
/*
 * frame_rx_drain(), and then @n frames of @stream in all, and not one bad
 * frame.  0, -EIO (bad frames) or -ERANGE (another count), with @rx->why
 * saying what, or the negative errno of the drain.
 */
int frame_rx_expect(struct frame_rx *rx, unsigned int idle_ms, uint32_t stream,
		    uint32_t n);

#endif /* KPF_FRAME_H */
