// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The limits every guess meets (auth.h, docs/auth.md): the attempt
 * counts of the login rate limit, per key (a client prefix, a user name,
 * a user's 2FA codes) in a window, and the few argon2id hashes that may
 * run at once. auth.c (logins, new passwords) and auth_2fa.c (codes,
 * recovery codes) both count here, so a code's guesser is held by the
 * same table as a password's.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "host/auth.h"

/*
 * Login rate limit: attempts that did not succeed, per client prefix (an
 * IPv4 address, an IPv6 /64: one subscriber's) and per account, in a window.
 */
#define RL_WINDOW 60
#define RL_SLOTS 512

/*
 * argon2id takes 64 MiB for each hash: at most HASH_SLOTS at once. A login
 * waits AUTH_HASH_WAIT_MS for a slot, then is told to come back (429).
 */
#define HASH_SLOTS 2

static sem_t hash_slots;

int auth_limit_init(void)
{
	return sem_init(&hash_slots, 0, HASH_SLOTS);
}

/* A slot to hash in: waiting up to wait_ms (-1: as long as it takes); false: none came. */
bool auth_hash_slot_get(int wait_ms)
{
	struct timespec until;

	if (wait_ms < 0) {
		while (sem_wait(&hash_slots) < 0)
			if (errno != EINTR)
				return false;
		return true;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000)
		until.tv_sec++, until.tv_nsec -= 1000000000;
	while (sem_timedwait(&hash_slots, &until) < 0)
		if (errno != EINTR)
			return false;
	return true;
}

void auth_hash_slot_put(void)
{
	sem_post(&hash_slots);
}

/* --- the login rate limit -------------------------------------------------------------- */

static struct {
	char key[80];
	time_t start;
	int fails;
} rl[RL_SLOTS];
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Count an attempt of `key` before its hash, so that parallel attempts
 * cannot all pass the check: seconds until `key` may try again (and the
 * attempt not counted) when it has `limit` already, else 0.
 */
int auth_rl_take(const char *key, int limit, time_t now)
{
	size_t i, free_slot = RL_SLOTS, least = 0;
	int wait = 0;

	pthread_mutex_lock(&rl_lock);
	for (i = 0; i < RL_SLOTS; i++) {
		if (!strcmp(rl[i].key, key))
			break;
		if (free_slot == RL_SLOTS && (!*rl[i].key || now - rl[i].start >= RL_WINDOW))
			free_slot = i;
		/*
		 * A full table gives up the key with the fewest failures: a
		 * flood of new addresses or names must not push out the count
		 * of an account under attack (each failure costs a hash).
		 */
		if (rl[i].fails < rl[least].fails ||
		    (rl[i].fails == rl[least].fails && rl[i].start < rl[least].start))
			least = i;
	}
	if (i == RL_SLOTS) {
		i = free_slot < RL_SLOTS ? free_slot : least;
		snprintf(rl[i].key, sizeof(rl[i].key), "%s", key);
		rl[i].start = now;
		rl[i].fails = 0;
	} else if (now - rl[i].start >= RL_WINDOW) {
		rl[i].start = now;
		rl[i].fails = 0;
	}
	if (rl[i].fails >= limit)
		wait = (int)(RL_WINDOW - (now - rl[i].start));
	else
		rl[i].fails++;
	pthread_mutex_unlock(&rl_lock);
	return wait > 0 ? wait : 0;
}

/* The attempt of `key` taken at `now` did not fail after all (right password, or not tried). */
void auth_rl_untake(const char *key, time_t now)
{
	pthread_mutex_lock(&rl_lock);
	for (size_t i = 0; i < RL_SLOTS; i++)
		if (!strcmp(rl[i].key, key) && rl[i].start <= now &&
		    now - rl[i].start < RL_WINDOW && rl[i].fails > 0)
			rl[i].fails--;
	pthread_mutex_unlock(&rl_lock);
}
