/*
 * lib/fsshare.c: the mountinfo parser finds a mount's line by id or by
 * device, whatever else the image holds, and the judgement says which
 * file systems keep their locks to one host.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fsshare.h"

#define EXT4 "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
#define NFS4 "40 22 0:52 / /srv/mail rw,relatime shared:30 - nfs4 " \
	"srv:/mail rw,vers=4.2,rsize=1048576,hard,proto=tcp," \
	"local_lock=none,addr=192.0.2.1\n"
#define NFS3 "41 22 0:53 / /srv/m3 rw - nfs srv:/m3 " \
	"rw,vers=3,local_lock=posix,addr=192.0.2.1\n"
#define CIFS "42 22 0:54 / /srv/smb rw - cifs //srv/x rw,vers=3.1.1,nobrl\n"
#define FUSE "43 22 0:55 / /srv/g rw - fuse.glusterfs srv:/g rw,user_id=0\n"

static struct fsmount m;

static int
find(const char *img, uint64_t id, unsigned maj, unsigned min)
{
	memset(&m, 0, sizeof(m));
	return fsshare_find(img, strlen(img), id, maj, min, &m);
}

static int
judged(const char *type, const char *opts, enum fsshare want)
{
	fsshare_judge(type, opts, strlen(opts), &m);
	return m.share == want && (want == FS_SHARED || want == FS_LOCAL ?
	    m.why[0] == '\0' : m.why[0] != '\0');
}

static void
lines(void)
{
	const char	*all = EXT4 NFS4 NFS3 CIFS FUSE;

	CHECK(find(all, 22, 0, 0) == 1 && strcmp(m.fstype, "ext4") == 0 &&
	    m.share == FS_LOCAL);
	CHECK(find(all, 40, 0, 0) == 1 && m.share == FS_SHARED &&
	    m.server_clock);
	CHECK(find(all, 0, 0, 53) == 1 && m.share == FS_HOSTLOCAL);
	CHECK(find(all, 0, 0, 54) == 1 && strcmp(m.fstype, "cifs") == 0 &&
	    m.share == FS_HOSTLOCAL && !m.server_clock);
	CHECK(find(all, 43, 0, 0) == 1 && m.share == FS_UNKNOWN);
	CHECK(find(all, 99, 0, 0) == 0);
	CHECK(find(all, 0, 8, 2) == 0);
	/* The last line without its newline, and no super options. */
	CHECK(find("7 1 0:9 / /x rw - tmpfs none", 7, 0, 0) == 1 &&
	    strcmp(m.fstype, "tmpfs") == 0);
	/* Several optional fields, then the separator. */
	CHECK(find("5 1 0:9 / /x rw shared:2 master:3 unbindable - nfs4 s:/ "
	    "rw,local_lock=all\n", 5, 0, 0) == 1 && m.share == FS_HOSTLOCAL);
}

static void
malformed(void)
{
	static char	 big[MOUNTINFO_LINE_MAX + 200];
	size_t		 n;

	CHECK(find("", 1, 0, 0) == 0);
	CHECK(find("\n\n\n", 1, 0, 0) == 0);
	CHECK(find("x 1 0:9 / /x rw - ext4 s rw\n", 0, 0, 9) == 0);
	CHECK(find("1 1 0:9 / /x rw ext4 s rw\n", 1, 0, 0) == 0); /* no - */
	CHECK(find("1 1 09 / /x rw - ext4 s rw\n", 1, 0, 0) == 0);
	CHECK(find("1 1 0:9 / /x rw -\n", 1, 0, 0) == 0);
	CHECK(find("1 1 0:9 / /x rw - ext4\n", 1, 0, 0) == 0);
	CHECK(find("1  1 0:9 / /x rw - ext4 s rw\n", 1, 0, 0) == 0);
	CHECK(find("99999999999999999999999 1 0:9 / /x rw - ext4 s rw\n", 0,
	    0, 9) == 0);
	CHECK(find("1 1 0:99999999999 / /x rw - ext4 s rw\n", 1, 0, 0) == 0);
	CHECK(find("1 1 0:9 / /x rw - "
	    "a234567890123456789012345678901234567890123456789012345678901234"
	    " s rw\n", 1, 0, 0) == 0);		/* a type of FSTYPE_MAX + 1 */
	/* A line over MOUNTINFO_LINE_MAX is skipped, the next one read. */
	memset(big, 'o', sizeof(big));
	n = (size_t)snprintf(big, sizeof(big), "3 1 0:9 / /x rw - nfs4 s ");
	big[n] = 'o';
	big[MOUNTINFO_LINE_MAX + 1] = '\n';
	memcpy(big + MOUNTINFO_LINE_MAX + 2, EXT4, sizeof(EXT4));
	CHECK(fsshare_find(big, strlen(big), 3, 0, 0, &m) == 0);
	CHECK(fsshare_find(big, strlen(big), 22, 0, 0, &m) == 1);
	big[MOUNTINFO_LINE_MAX] = '\n';		/* now just at the maximum */
	CHECK(fsshare_find(big, strlen(big), 3, 0, 0, &m) == 1 &&
	    m.share == FS_SHARED);
}

static void
judgements(void)
{
	CHECK(judged("nfs4", "rw,local_lock=none", FS_SHARED));
	CHECK(judged("nfs", "rw,vers=3,local_lock=flock", FS_SHARED));
	CHECK(judged("nfs", "rw,vers=3,local_lock=all", FS_HOSTLOCAL));
	CHECK(judged("nfs4", "rw,local_lock=posix", FS_HOSTLOCAL));
	CHECK(judged("nfs", "rw,nolock", FS_HOSTLOCAL));
	CHECK(judged("nfs", "rw,local_lock=allx", FS_SHARED));
	CHECK(judged("cifs", "rw,vers=3.0", FS_SHARED));
	CHECK(judged("smb3", "rw,nobrl,x", FS_HOSTLOCAL));
	CHECK(judged("cifs", "rw,nobrlx", FS_SHARED));
	CHECK(judged("ceph", "rw,name=a", FS_SHARED));
	CHECK(judged("gfs2", "rw", FS_SHARED));
	CHECK(judged("gfs2", "rw,localflocks", FS_HOSTLOCAL));
	CHECK(judged("ocfs2", "localflocks", FS_HOSTLOCAL));
	CHECK(judged("lustre", "rw,flock", FS_SHARED));
	CHECK(judged("lustre", "rw,localflock", FS_HOSTLOCAL));
	CHECK(judged("fuse.sshfs", "rw", FS_UNKNOWN));
	CHECK(judged("9p", "rw", FS_UNKNOWN));
	CHECK(judged("virtiofs", "rw", FS_UNKNOWN));
	CHECK(judged("ext4", "rw,local_lock=all,nobrl", FS_LOCAL));
	CHECK(judged("tmpfs", "", FS_LOCAL));
	CHECK(judged("fuseblk", "rw", FS_LOCAL));
	/* flock: NFS's local_lock=flock keeps it local, posix does not. */
	fsshare_judge("nfs", "rw,local_lock=flock", 19, &m);
	CHECK(m.share == FS_SHARED && m.flock_share == FS_HOSTLOCAL &&
	    m.flock_why[0] != '\0' && m.why[0] == '\0');
	fsshare_judge("nfs4", "rw,local_lock=posix", 19, &m);
	CHECK(m.share == FS_HOSTLOCAL && m.flock_share == FS_SHARED &&
	    m.flock_why[0] == '\0');
	fsshare_judge("nfs4", "rw,local_lock=all", 17, &m);
	CHECK(m.share == FS_HOSTLOCAL && m.flock_share == FS_HOSTLOCAL);
	fsshare_judge("cifs", "rw,nobrl", 8, &m);
	CHECK(m.flock_share == FS_HOSTLOCAL && m.flock_why == m.why);
	fsshare_judge("ceph", "rw", 2, &m);
	CHECK(m.flock_share == FS_SHARED && m.flock_why[0] == '\0');
	fsshare_judge("ext4", "rw,local_lock=flock", 19, &m);
	CHECK(m.flock_share == FS_LOCAL);
	fsshare_judge("nfs4", "", 0, &m);
	CHECK(m.server_clock);
	fsshare_judge("ceph", "", 0, &m);
	CHECK(!m.server_clock);
	/*
	 * Known local types have one clock; a type pop3d does not know is
	 * not warned about but keeps the clock margin (no one_host).
	 */
	fsshare_judge("ext4", "rw", 2, &m);
	CHECK(m.share == FS_LOCAL && m.one_host);
	fsshare_judge("tmpfs", "", 0, &m);
	CHECK(m.share == FS_LOCAL && m.one_host);
	fsshare_judge("panfs", "rw", 2, &m);
	CHECK(m.share == FS_LOCAL && !m.one_host && m.why[0] == '\0');
	fsshare_judge("overlay", "rw", 2, &m);
	CHECK(m.share == FS_LOCAL && !m.one_host);
	fsshare_judge("nfs4", "rw", 2, &m);
	CHECK(!m.one_host);
	fsshare_judge("ext4x", "rw", 2, &m);
	CHECK(!m.one_host);
}

/* A local type told by statfs's magic, or the table: the same answer. */
static void
of_fd(void)
{
	struct fsmount	byfd;
	int		fd;

	if ((fd = open("/dev/shm", O_RDONLY | O_DIRECTORY)) == -1) {
		printf("ok - # SKIP no /dev/shm\n");
		return;
	}
	memset(&byfd, 0, sizeof(byfd));
	if (CHECK(fsshare_of_fd(fd, &byfd) == 1) &&
	    strcmp(byfd.fstype, "tmpfs") == 0)
		CHECK(byfd.share == FS_LOCAL && byfd.one_host);
	close(fd);
}

int
main(void)
{
	lines();
	malformed();
	judgements();
	of_fd();
	return check_done();
}
