// SPDX-License-Identifier: GPL-2.0
/*
 * Test frames: building, sending with AF_PACKET, and checking them, in a
 * guest (frame_check_*(), guest code) or on the host (frame_rx_*()).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include "frame.h"
#include "kvm_util.h"

/* How often and how long a send that found the queue full is retried. */
#define FRAME_SEND_TRIES 1000
#define FRAME_SEND_BACKOFF_US 1000

static inline __guest uint16_t frame_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline __guest uint32_t frame_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void __guest frame_check_fail(struct frame_check *c, uint32_t err)
{
	if (!c->err) {
		c->err = err;
		c->err_pos = c->pos;
	}
}

void __guest frame_check_start(struct frame_check *c)
{
	uint8_t *p = (uint8_t *)c;
	size_t i;

	for (i = 0; i < sizeof(*c); i++)
		p[i] = 0;
	c->type_end = FRAME_ETH_HLEN;
	c->csum = FRAME_FNV_INIT;
}

/* An ethertype or TPID ends at c->pos: a tag, the frame's type, or wrong. */
static void __guest frame_check_type(struct frame_check *c)
{
	uint16_t type = frame_be16(c->head + c->type_end - 2);

	/* The TCI of the tag parsed last precedes this type. */
	if (c->nr_tags)
		c->tags[c->nr_tags - 1].tci =
			frame_be16(c->head + c->type_end - 4);
	if (type == FRAME_ETHERTYPE) {
		c->hdr_end = c->type_end + FRAME_HDR_LEN;
	} else if (c->nr_tags < FRAME_MAX_TAGS) {
		c->tags[c->nr_tags++].tpid = type;
		c->type_end += FRAME_TAG_LEN;
	} else {
		frame_check_fail(c, FRAME_E_TYPE);
	}
}

/* The frame header ends at c->pos. */
static void __guest frame_check_hdr(struct frame_check *c)
{
	const uint8_t *h = c->head + c->hdr_end - FRAME_HDR_LEN;

	c->hdr.magic = frame_be32(h);
	c->hdr.stream = frame_be32(h + 4);
	c->hdr.seq = frame_be32(h + 8);
	c->hdr.len = frame_be32(h + 12);
	c->hdr.csum = frame_be32(h + 16);
	if (c->hdr.magic != FRAME_MAGIC)
		frame_check_fail(c, FRAME_E_MAGIC);
	else if (c->hdr.len > FRAME_MAX_LEN)
		frame_check_fail(c, FRAME_E_LEN);
	else
		c->payload_end = c->hdr_end + c->hdr.len;
}

static void __guest frame_check_byte(struct frame_check *c, uint8_t b)
{
	if (!c->payload_end) {
		c->head[c->pos] = b;
		if (!c->hdr_end && c->pos + 1 == c->type_end)
			frame_check_type(c);
		else if (c->hdr_end && c->pos + 1 == c->hdr_end)
			frame_check_hdr(c);
	} else if (c->pos < c->payload_end) {
		uint32_t i = c->pos - c->hdr_end;

		if (b != frame_byte(c->hdr.stream, c->hdr.seq, i))
			frame_check_fail(c, FRAME_E_PATTERN);
		c->csum = frame_fnv(c->csum, b);
	} else if (b || c->pos >= FRAME_PAD_MAX) {
		frame_check_fail(c, FRAME_E_PAD);
	}
}

void __guest frame_check_feed(struct frame_check *c, const uint8_t *p,
			      uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len && !c->err; i++, c->pos++)
		frame_check_byte(c, p[i]);
	c->pos += len - i;
}

uint32_t __guest frame_check_end(struct frame_check *c)
{
	if (!c->payload_end || c->pos < c->payload_end)
		frame_check_fail(c, FRAME_E_SHORT);
	else if (c->csum != c->hdr.csum)
		frame_check_fail(c, FRAME_E_CSUM);
	return c->err;
}

const char *frame_strerror(uint32_t err)
{
	static const char *const text[] = {
		[FRAME_OK] = "ok",
		[FRAME_E_SHORT] = "frame ends early",
		[FRAME_E_TYPE] = "no test ethertype after two tags",
		[FRAME_E_MAGIC] = "bad magic",
		[FRAME_E_LEN] = "header length too large",
		[FRAME_E_PATTERN] = "payload byte differs",
		[FRAME_E_CSUM] = "payload checksum differs",
		[FRAME_E_PAD] = "bytes after the payload",
	};

	return err < ARRAY_SIZE(text) ? text[err] : "?";
}

static uint8_t *put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
	return p + 2;
}

static uint8_t *put_be32(uint8_t *p, uint32_t v)
{
	p = put_be16(p, v >> 16);
	return put_be16(p, v);
}

size_t frame_build(const struct frame_spec *s, uint8_t *buf, size_t size)
{
	uint32_t csum = FRAME_FNV_INIT, i, tags = 0;
	uint8_t *p = buf;

	while (tags < FRAME_MAX_TAGS && s->tags[tags].tpid)
		tags++;
	if (size < FRAME_LEN(tags, s->payload))
		return 0;
	memcpy(p, s->dst, 6);
	memcpy(p + 6, s->src, 6);
	p += 12;
	for (i = 0; i < tags; i++) {
		p = put_be16(p, s->tags[i].tpid);
		p = put_be16(p, s->tags[i].tci);
	}
	p = put_be16(p, FRAME_ETHERTYPE);
	for (i = 0; i < s->payload; i++) {
		uint8_t b = frame_byte(s->stream, s->seq, i);

		p[FRAME_HDR_LEN + i] = b;
		csum = frame_fnv(csum, b);
	}
	p = put_be32(p, FRAME_MAGIC);
	p = put_be32(p, s->stream);
	p = put_be32(p, s->seq);
	p = put_be32(p, s->payload);
	p = put_be32(p, csum);
	return p + s->payload - buf;
}

int frame_tx_open(struct frame_tx *tx, int ifindex)
{
	tx->ifindex = ifindex;
	tx->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	return tx->fd < 0 ? -errno : 0;
}

void frame_tx_close(struct frame_tx *tx)
{
	if (tx->fd >= 0)
		close(tx->fd);
	tx->fd = -1;
}

int frame_send(struct frame_tx *tx, const struct frame_spec *s)
{
	static uint8_t buf[FRAME_MAX_LEN];
	struct timespec backoff = { .tv_nsec = FRAME_SEND_BACKOFF_US * 1000 };
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_ifindex = tx->ifindex,
		.sll_halen = 6,
	};
	size_t len = frame_build(s, buf, sizeof(buf));
	int tries;

	if (!len)
		return -EMSGSIZE;
	memcpy(to.sll_addr, s->dst, 6);
	/* A full queue (ENOBUFS) is retried: the tests pace themselves. */
	for (tries = 0; tries < FRAME_SEND_TRIES; tries++) {
		ssize_t n = sendto(tx->fd, buf, len, 0, (struct sockaddr *)&to,
				   sizeof(to));

		if (n == (ssize_t)len)
			return 0;
		if (n >= 0)
			return -EIO;
		if (errno != ENOBUFS && errno != EAGAIN)
			return -errno;
		nanosleep(&backoff, NULL);
	}
	return -ENOBUFS;
}

int frame_send_seq(struct frame_tx *tx, const struct frame_spec *s,
		   uint32_t count)
{
	struct frame_spec f = *s;
	uint32_t i;
	int ret;

	for (i = 0; i < count; i++, f.seq++) {
		if (s->span)
			f.payload = s->payload + f.seq * 211 % s->span;
		ret = frame_send(tx, &f);
		if (ret)
			return ret;
	}
	return 0;
}

static void *frame_sender_run(void *arg)
{
	struct frame_sender *snd = arg;
	struct frame_spec f;
	unsigned int i;
	uint32_t n;

	for (n = 0; !__atomic_load_n(&snd->stop, __ATOMIC_RELAXED) &&
		    (!snd->count || n < snd->count);
	     n++) {
		for (i = 0; i < snd->nr_specs; i++) {
			f = snd->specs[i];
			f.seq += n;
			snd->err = frame_send_seq(snd->tx, &f, 1);
			if (snd->err)
				goto out;
		}
		__atomic_store_n(&snd->sent, n + 1, __ATOMIC_RELEASE);
	}
out:
	__atomic_store_n(&snd->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int frame_sender_start(struct frame_sender *snd)
{
	snd->sent = 0;
	snd->done = 0;
	snd->err = 0;
	snd->stop = 0;
	return -pthread_create(&snd->thread, NULL, frame_sender_run, snd);
}

int frame_sender_stop(struct frame_sender *snd)
{
	__atomic_store_n(&snd->stop, 1, __ATOMIC_RELAXED);
	pthread_join(snd->thread, NULL);
	return snd->err;
}

/* Keeps frames with FRAME_MAGIC behind zero, one or two tags. */
static int frame_rx_filter(int fd)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, FRAME_ETH_HLEN),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FRAME_MAGIC, 5, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 FRAME_ETH_HLEN + FRAME_TAG_LEN),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FRAME_MAGIC, 3, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 FRAME_ETH_HLEN + 2 * FRAME_TAG_LEN),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FRAME_MAGIC, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, FRAME_MAX_LEN),
	};
	struct sock_fprog prog = {
		.len = ARRAY_SIZE(code),
		.filter = code,
	};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			  sizeof(prog));
}

int frame_rx_open(struct frame_rx *rx, int ifindex)
{
	static const uint16_t types[FRAME_RX_SOCKS] = { FRAME_ETHERTYPE,
							FRAME_TPID_8021Q,
							FRAME_TPID_8021AD,
							FRAME_TPID_BOGUS };
	int i, ret;

	memset(rx, 0, sizeof(*rx));
	for (i = 0; i < FRAME_RX_SOCKS; i++)
		rx->fds[i] = -1;
	for (i = 0; i < FRAME_RX_SOCKS; i++) {
		struct sockaddr_ll at = {
			.sll_family = AF_PACKET,
			.sll_protocol = htons(types[i]),
			.sll_ifindex = ifindex,
		};

		rx->fds[i] = socket(AF_PACKET,
				    SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    htons(types[i]));
		if (rx->fds[i] < 0 || frame_rx_filter(rx->fds[i]) ||
		    bind(rx->fds[i], (struct sockaddr *)&at, sizeof(at))) {
			ret = -errno;
			frame_rx_close(rx);
			return ret;
		}
	}
	return 0;
}

void frame_rx_close(struct frame_rx *rx)
{
	int i;

	for (i = 0; i < FRAME_RX_SOCKS; i++) {
		if (rx->fds[i] >= 0)
			close(rx->fds[i]);
		rx->fds[i] = -1;
	}
}

/* Checks one frame that reached the host and counts it. */
static void frame_rx_account(struct frame_rx *rx, const uint8_t *buf,
			     uint32_t len)
{
	struct frame_check c;
	uint32_t err, s;

	frame_check_start(&c);
	frame_check_feed(&c, buf, len);
	err = frame_check_end(&c);
	rx->frames++;
	s = c.hdr.stream;
	if (!err && s >= FRAME_RX_MAX_STREAMS) {
		snprintf(rx->why, sizeof(rx->why), "stream %u out of range", s);
		rx->bad++;
		return;
	}
	if (!err && c.hdr.seq != rx->next_seq[s]) {
		if (!rx->bad)
			snprintf(rx->why, sizeof(rx->why),
				 "stream %u: seq %u, expected %u", s, c.hdr.seq,
				 rx->next_seq[s]);
		rx->bad++;
	} else if (err) {
		if (!rx->bad)
			snprintf(rx->why, sizeof(rx->why),
				 "%u-byte frame: %s at byte %u", len,
				 frame_strerror(err), c.err_pos);
		rx->bad++;
		return;
	}
	rx->next_seq[s] = c.hdr.seq + 1;
	rx->count[s]++;
}

int frame_rx_drain(struct frame_rx *rx, unsigned int idle_ms)
{
	static uint8_t buf[FRAME_MAX_LEN];
	struct pollfd pfd[FRAME_RX_SOCKS];
	int i, n, got = 0;

	for (i = 0; i < FRAME_RX_SOCKS; i++)
		pfd[i] = (struct pollfd){ .fd = rx->fds[i], .events = POLLIN };
	for (;;) {
		n = poll(pfd, FRAME_RX_SOCKS, idle_ms);
		if (n < 0)
			return -errno;
		if (!n)
			return got;
		for (i = 0; i < FRAME_RX_SOCKS; i++) {
			ssize_t len;

			if (!(pfd[i].revents & POLLIN))
				continue;
			while ((len = recv(rx->fds[i], buf, sizeof(buf),
					   MSG_TRUNC)) >= 0) {
				frame_rx_account(rx, buf,
						 len > (ssize_t)sizeof(buf) ?
							 sizeof(buf) :
							 (uint32_t)len);
				got++;
			}
			if (errno != EAGAIN)
				return -errno;
		}
	}
}

int frame_rx_expect(struct frame_rx *rx, unsigned int idle_ms, uint32_t stream,
		    uint32_t n)
{
	int ret = frame_rx_drain(rx, idle_ms);

	if (ret < 0)
		return ret;
	if (rx->bad)
		return -EIO;
	if (stream >= FRAME_RX_MAX_STREAMS || rx->count[stream] != n) {
		snprintf(rx->why, sizeof(rx->why),
			 "stream %u: %u frames, expected %u", stream,
			 stream < FRAME_RX_MAX_STREAMS ? rx->count[stream] : 0,
			 n);
		return -ERANGE;
	}
	return 0;
}
