/* The latency of one dependent random memory access over a table of a given
 * size: a pointer chase through a shuffled cycle of 64-byte lines, so every
 * load's address is the previous load's value and nothing overlaps. It is the
 * floor under a cold snapshot lookup, which makes two such accesses (the
 * index slot, then the row's record). Usage: chase MEGABYTES... */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double chase(size_t megabytes) {
    size_t lines = megabytes * 1024 * 1024 / 64;
    uint64_t *table = aligned_alloc(64, lines * 64);
    size_t *order = malloc(lines * sizeof(size_t));
    if (!table || !order) {
        fprintf(stderr, "chase: cannot allocate %zu MB\n", megabytes);
        exit(2);
    }
    for (size_t i = 0; i < lines; i++) order[i] = i;
    uint64_t x = 88172645463325252ULL; /* xorshift64, seeded: every run the same */
    for (size_t i = lines - 1; i > 0; i--) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t j = x % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < lines; i++) table[order[i] * 8] = order[(i + 1) % lines] * 8;
    free(order);
    const size_t steps = 5000000;
    struct timespec t0, t1;
    size_t at = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < steps; i++) at = table[at];
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(table);
    if (at == SIZE_MAX) puts(""); /* keeps the chase from being optimised away */
    return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / steps;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        size_t mb = strtoul(argv[i], NULL, 10);
        printf("%6zu MB: %6.1f ns per dependent access\n", mb, chase(mb));
    }
    return 0;
}
