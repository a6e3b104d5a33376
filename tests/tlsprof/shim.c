/*
 * Preloaded into pop3d-tls by tests/tls-profile.sh, never installed:
 * valgrind cannot follow a process into a seccomp filter, a chroot or its
 * resource limits (its own output file and address space need them), so
 * these become no-ops, and the filter is still built (seccomp_load's
 * work but the kernel's) so that its cost is counted.  A profile only.
 */
#include <sys/resource.h>

#include <fcntl.h>
#include <unistd.h>

#include <seccomp.h>

int
seccomp_load(const scmp_filter_ctx ctx)
{
	int	fd, r;

	if ((fd = open("/dev/null", O_WRONLY)) == -1)
		return -1;
	r = seccomp_export_bpf(ctx, fd);
	close(fd);
	return r;
}

int
setrlimit(int resource, const struct rlimit *rl)
{
	(void)resource;
	(void)rl;
	return 0;
}

int
chroot(const char *path)
{
	(void)path;
	return 0;
}

/* valgrind does not pass the seccomp(2) probe libseccomp makes. */
__attribute__((constructor)) static void
api_level(void)
{
	seccomp_api_set(6);
}
