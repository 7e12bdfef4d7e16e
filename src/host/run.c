// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Running a helper program from the daemon (run.h): vps-ctm, vps-ct, the
 * template builders. A bounded capture of what it prints, a deadline, and
 * death with vpsd so a restarted vpsd finds nothing half done by a child.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/run.h"

int host_run_capture(char *const *argv, char **out, char **err_out, int timeout_s)
{
	int po[2], pe[2], st = 0;
	char *buf[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 };
	pid_t pid;
	time_t end = time(NULL) + timeout_s;

	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		/* work for vpsd dies with it: a restarted vpsd undoes what was half done */
		prctl(PR_SET_PDEATHSIG, SIGKILL);

		dup2(nul, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	for (int open_fds = 2; open_fds > 0 && pid > 0;) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		int left = (int)(end - time(NULL));

		if (left <= 0 || poll(p, 2, left * 1000) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		for (int i = 0; i < 2; i++) {
			char chunk[4096], *nb;
			ssize_t n;

			if (!p[i].revents || p[i].fd < 0)
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n <= 0) {
				close(i ? pe[0] : po[0]);
				*(i ? &pe[0] : &po[0]) = -1;
				open_fds--;
				continue;
			}
			if (len[i] < (1 << 20) && (nb = realloc(buf[i], len[i] + n + 1))) {
				buf[i] = nb;
				memcpy(buf[i] + len[i], chunk, n);
				len[i] += n;
				buf[i][len[i]] = 0;
			}
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (pid < 0)
		return -EAGAIN;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*out = buf[0] ? buf[0] : strdup("");
	if (err_out)
		*err_out = buf[1] ? buf[1] : strdup("");
	else
		free(buf[1]);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
