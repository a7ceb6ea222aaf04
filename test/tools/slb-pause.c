// SPDX-License-Identifier: Apache-2.0
/*
 * The sandbox ("pause") process of the test pods that a real container
 * runtime creates (test/integration/runtime_containerd.sh): no registry is
 * reachable, so the test builds its own pause image from this, linked
 * static. It holds the pod's namespaces open, reaps the orphans it inherits
 * as PID 1, and exits 0 on SIGTERM or SIGINT (how runtimes stop it).
 *
 *   slb-pause
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	struct sigaction term = { .sa_handler = on_stop }, child = { .sa_handler = on_child };
	sigset_t stops, before;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: slb-pause\n");
		return 2;
	}
	if (sigaction(SIGTERM, &term, NULL) || sigaction(SIGINT, &term, NULL) || sigaction(SIGCHLD, &child, NULL)) {
		perror("slb-pause: sigaction");
		return 1;
	}
	/* Blocked until sigsuspend: a SIGTERM between the test and the wait is not lost. */
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigprocmask(SIG_BLOCK, &stops, &before);
	while (!stop)
		sigsuspend(&before);
	return 0;
}
