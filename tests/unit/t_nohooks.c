/*
 * lib/fsshare.c as a plain "make" (and so "make install") builds it,
 * without TEST_HOOKS=1: the TEST_POP3D_* variables the tests use to fake
 * a mount table, a failing flock and a skewed clock change nothing, so
 * that a server that finds them in its environment cannot be made to
 * drop a lock, refuse every session or trust an unsettled cache.  The
 * source is compiled here, whatever the build's TEST_HOOKS.
 */
#undef POP3D_TEST_HOOKS
#include "fsshare.c"

#include <sys/file.h>
#include <time.h>

#include "check.h"

int
main(void)
{
	char		dir[64];
	struct fsmount	m;
	int64_t		now;
	int		fd;

	if (check_tmpdir(dir, sizeof(dir), "t_nohooks") == NULL ||
	    (fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1) {
		perror(dir);
		return 1;
	}
	setenv("TEST_POP3D_FLOCK_ERRNO", "11", 1);
	setenv("TEST_POP3D_CLOCK_OFFSET", "86400", 1);
	setenv("TEST_POP3D_MOUNTINFO", "/nonexistent/mountinfo", 1);
	CHECK(fsshare_flock(fd, LOCK_EX | LOCK_NB) == 0);
	CHECK(fsshare_clock_offset() == 0);
	CHECK(fsshare_touch(fd, &now) == 0 &&
	    now / 1000000000 < (int64_t)time(NULL) + 60);
	CHECK(fsshare_of_fd(fd, &m) == 1);
	close(fd);
	rmdir(dir);
	return check_done();
}
