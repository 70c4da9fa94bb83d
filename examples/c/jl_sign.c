/*
 * Reference signer for the Digital Jilin IoT pipeline, wire contract v2 (docs/DEVICES.md):
 *
 *     sig = hex(HMAC-SHA256(key, topic + "\n" + payload))
 *
 * over the payload bytes exactly as sent. Standalone C99 (SHA-256 after FIPS 180-4, HMAC after
 * RFC 2104), no library, so it ports to a microcontroller as it is; with mbedTLS the same is
 * mbedtls_md_hmac() with MBEDTLS_MD_SHA256.
 *
 *     cc -O2 -o jl_sign jl_sign.c
 *     printf '%s' "$payload" | ./jl_sign KEY_HEX TOPIC            -> the signature (MQTT 5: user property "sig")
 *     printf '%s' "$payload" | ./jl_sign KEY_HEX TOPIC --trailer  -> payload + "\nsig=" + signature (MQTT 3.1.1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint32_t h[8];
  uint64_t len;
  uint8_t buf[64];
  size_t used;
} sha256_ctx;

static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256_ctx *c, const uint8_t *p) {
  uint32_t w[64], a, b, d, e, f, g, h, cc, t1, t2;
  for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3]; e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
  for (int i = 0; i < 64; i++) {
    t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
    h = g; g = f; f = e; e = d + t1; d = cc; cc = b; b = a; a = t1 + t2;
  }
  c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d; c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void sha256_init(sha256_ctx *c) {
  static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, H0, sizeof H0);
  c->len = 0;
  c->used = 0;
}

static void sha256_update(sha256_ctx *c, const uint8_t *p, size_t n) {
  c->len += n;
  while (n > 0) {
    size_t take = 64 - c->used < n ? 64 - c->used : n;
    memcpy(c->buf + c->used, p, take);
    c->used += take;
    p += take;
    n -= take;
    if (c->used == 64) {
      sha256_block(c, c->buf);
      c->used = 0;
    }
  }
}

static void sha256_final(sha256_ctx *c, uint8_t out[32]) {
  uint64_t bits = c->len * 8;
  uint8_t pad = 0x80, zero = 0, lenbe[8];
  sha256_update(c, &pad, 1);
  while (c->used != 56) sha256_update(c, &zero, 1);
  for (int i = 0; i < 8; i++) lenbe[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(c, lenbe, 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->h[i];
  }
}

/* HMAC-SHA256 of topic, "\n" and payload: the v2 signature. */
static void jl_sign_v2(const uint8_t *key, size_t key_len, const char *topic, const uint8_t *payload, size_t payload_len, uint8_t mac[32]) {
  uint8_t k[64] = {0}, ipad[64], opad[64], inner[32];
  sha256_ctx c;
  if (key_len > 64) {
    sha256_init(&c);
    sha256_update(&c, key, key_len);
    sha256_final(&c, k);
  } else {
    memcpy(k, key, key_len);
  }
  for (int i = 0; i < 64; i++) {
    ipad[i] = k[i] ^ 0x36;
    opad[i] = k[i] ^ 0x5c;
  }
  sha256_init(&c);
  sha256_update(&c, ipad, 64);
  sha256_update(&c, (const uint8_t *)topic, strlen(topic));
  sha256_update(&c, (const uint8_t *)"\n", 1);
  sha256_update(&c, payload, payload_len);
  sha256_final(&c, inner);
  sha256_init(&c);
  sha256_update(&c, opad, 64);
  sha256_update(&c, inner, 32);
  sha256_final(&c, mac);
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--trailer") != 0)) {
    fprintf(stderr, "usage: %s KEY_HEX TOPIC [--trailer] < payload\n", argv[0]);
    return 2;
  }
  size_t hex_len = strlen(argv[1]);
  if (hex_len % 2 != 0 || hex_len < 32 || hex_len > 128) {
    fprintf(stderr, "key must be 16 to 64 bytes in hex\n");
    return 2;
  }
  uint8_t key[64];
  for (size_t i = 0; i < hex_len / 2; i++) {
    int hi = hexval(argv[1][2 * i]), lo = hexval(argv[1][2 * i + 1]);
    if (hi < 0 || lo < 0) {
      fprintf(stderr, "key must be hex\n");
      return 2;
    }
    key[i] = (uint8_t)(hi << 4 | lo);
  }
  /* The payload: read whole, byte for byte (at most 64 KiB, the pipeline's limit). */
  static uint8_t payload[65536];
  size_t n = fread(payload, 1, sizeof payload, stdin);
  if (!feof(stdin)) {
    fprintf(stderr, "payload over 64 KiB\n");
    return 2;
  }
  uint8_t mac[32];
  jl_sign_v2(key, hex_len / 2, argv[2], payload, n, mac);
  if (argc == 4) {
    fwrite(payload, 1, n, stdout);
    fputs("\nsig=", stdout);
  }
  for (int i = 0; i < 32; i++) printf("%02x", mac[i]);
  if (argc == 3) putchar('\n');
  return 0;
}
