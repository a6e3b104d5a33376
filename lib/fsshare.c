/*
 * Whether a mount's locks reach other hosts (fsshare.h): the parser of
 * /proc/self/mountinfo, the judgement of a type and its options, and the
 * file system's clock read by touching a file.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsshare.h"
#include "num.h"

/*
 * The TEST_POP3D_* test hooks (fsshare.h) are read only in a build made
 * with "make TEST_HOOKS=1", as "make check" makes its own: in any other
 * one (a plain "make", what "make install" installs) a server that finds
 * them in its environment is not made to drop a lock, refuse every
 * session, trust an unsettled cache or open a path they name.
 */
#ifdef POP3D_TEST_HOOKS
#define TEST_HOOK(name)	getenv(name)
#else
#define TEST_HOOK(name)	((const char *)NULL)
#endif

/*
 * Network file systems whose locks pop3d does not know to reach other
 * hosts (each its own lock semantics, or none): warned about, as fuse.*.
 */
static const char *const unknown_types[] = {
	"9p", "afs", "beegfs", "coda", "davfs", "glusterfs", "gpfs", "ncp",
	"ncpfs", "orangefs", "pvfs2", "smbfs", "vboxsf", "virtiofs", NULL
};

/*
 * File systems that live on one host's disks or memory: one clock stamps
 * every file, and locks have no other host to reach.  Any type not here
 * nor judged below (a cluster file system pop3d has no word of, such as
 * panfs or wekafs; an overlay, whose upper layer may be anywhere) is
 * not warned about, but keeps the cache's clock margin.
 */
static const char *const local_types[] = {
	"bcachefs", "btrfs", "exfat", "ext2", "ext3", "ext4", "f2fs",
	"fuseblk", "hfsplus", "jfs", "msdos", "nilfs2", "ntfs", "ntfs3",
	"ramfs", "reiserfs", "tmpfs", "vfat", "xfs", "zfs", NULL
};

/*
 * The commonest of them by statfs(2)'s magic (linux/magic.h; ZFS's
 * own): their mount table line need not be read.
 */
static const struct {
	uint32_t	 magic;
	const char	*type;
} local_magics[] = {
	{ 0xEF53, "ext4" },		/* ext2, ext3 and ext4 alike */
	{ 0x58465342, "xfs" },
	{ 0x9123683E, "btrfs" },
	{ 0x01021994, "tmpfs" },
	{ 0x2FC12FC1, "zfs" },
	{ 0xF2F52010, "f2fs" },
	{ 0xCA451A4E, "bcachefs" },
};

static int
listed(const char *type, const char *const *list)
{
	size_t	i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(type, list[i]) == 0)
			return 1;
	return 0;
}

/* Whether the options (optlen octets, comma-separated) hold opt. */
static int
opt_has(const char *opts, size_t optlen, const char *opt)
{
	size_t	n = strlen(opt), i = 0, end;

	while (i < optlen) {
		for (end = i; end < optlen && opts[end] != ','; end++)
			continue;
		if (end - i == n && memcmp(opts + i, opt, n) == 0)
			return 1;
		i = end + 1;
	}
	return 0;
}

static void
judge_nfs(const char *opts, size_t optlen, struct fsmount *m)
{
	/*
	 * The maildrop's directory flock is local on NFS anyway (no lock
	 * operation for directories): what counts is the fcntl lock.
	 */
	m->server_clock = 1;	/* utimensat(NULL): SET_TO_SERVER_TIME */
	if (opt_has(opts, optlen, "local_lock=all") ||
	    opt_has(opts, optlen, "local_lock=posix") ||
	    opt_has(opts, optlen, "nolock")) {
		m->share = FS_HOSTLOCAL;
		m->why = "mounted with local_lock=all, local_lock=posix or"
		    " nolock: fcntl locks stay on this host";
	} else
		m->share = FS_SHARED;
	if (opt_has(opts, optlen, "local_lock=all") ||
	    opt_has(opts, optlen, "local_lock=flock") ||
	    opt_has(opts, optlen, "nolock")) {
		m->flock_share = FS_HOSTLOCAL;
		m->flock_why = "mounted with local_lock=all, local_lock=flock or"
		    " nolock: flock locks stay on this host";
	} else
		m->flock_share = FS_SHARED;
}

void
fsshare_judge(const char *type, const char *opts, size_t optlen,
    struct fsmount *m)
{
	m->share = FS_LOCAL;
	m->why = "";
	m->server_clock = 0;
	m->one_host = listed(type, local_types);
	m->flock_why = "";
	if (strcmp(type, "nfs") == 0 || strcmp(type, "nfs4") == 0) {
		judge_nfs(opts, optlen, m);
		return;
	}
	if (strcmp(type, "cifs") == 0 || strcmp(type, "smb3") == 0) {
		m->share = opt_has(opts, optlen, "nobrl") ? FS_HOSTLOCAL :
		    FS_SHARED;
		m->why = "mounted with nobrl: byte-range locks stay on this"
		    " host";
	} else if (strcmp(type, "gfs2") == 0 || strcmp(type, "ocfs2") == 0) {
		m->share = opt_has(opts, optlen, "localflocks") ?
		    FS_HOSTLOCAL : FS_SHARED;
		m->why = "mounted with localflocks: locks stay on this host";
	} else if (strcmp(type, "ceph") == 0)
		m->share = FS_SHARED;
	else if (strcmp(type, "lustre") == 0) {
		m->share = opt_has(opts, optlen, "flock") ? FS_SHARED :
		    FS_HOSTLOCAL;
		m->why = "mounted without flock: locks are local or off";
	} else if (strncmp(type, "fuse.", 5) == 0 || strcmp(type, "fuse") == 0) {
		m->share = FS_UNKNOWN;
		m->why = "a FUSE file system: its locks reach other hosts"
		    " only if its daemon shares them";
	} else if (listed(type, unknown_types)) {
		m->share = FS_UNKNOWN;
		m->why = "a network file system not known to share locks"
		    " between hosts";
	}
	if (m->share == FS_SHARED)
		m->why = "";
	/* Elsewhere flock goes where fcntl locks go (SMB: since Linux 5.5). */
	m->flock_share = m->share;
	m->flock_why = m->why;
}

/* The next space-separated field of line[0..n) from *at: 1, or 0 none. */
static int
field(const char *line, size_t n, size_t *at, const char **f, size_t *flen)
{
	size_t	i = *at, end;

	if (i >= n)
		return 0;
	for (end = i; end < n && line[end] != ' '; end++)
		continue;
	*f = line + i;
	*flen = end - i;
	*at = end + 1;
	return *flen > 0;
}

/* Decimal digits only, at most max: 0, or -1. */
static int
dec(const char *s, size_t n, uint64_t max, uint64_t *v)
{
	size_t	i;

	*v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    *v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

struct mline {
	uint64_t	 id, major, minor;
	const char	*type, *opts;
	size_t		 typelen, optlen;
};

/*
 * One line: "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE
 * SOURCE SUPER-OPTS" (proc(5)).  0, or -1 malformed.
 */
static int
line_parse(const char *line, size_t n, struct mline *l)
{
	const char	*f, *colon;
	size_t		 flen, at = 0, i;

	if (!field(line, n, &at, &f, &flen) ||
	    dec(f, flen, UINT64_MAX, &l->id) == -1)
		return -1;
	if (!field(line, n, &at, &f, &flen) ||	/* parent */
	    !field(line, n, &at, &f, &flen) ||
	    (colon = memchr(f, ':', flen)) == NULL ||
	    dec(f, colon - f, 0xffffffffU, &l->major) == -1 ||
	    dec(colon + 1, flen - (colon + 1 - f), 0xffffffffU,
	    &l->minor) == -1)
		return -1;
	for (i = 0; i < 3; i++)		/* root, mount point, options */
		if (!field(line, n, &at, &f, &flen))
			return -1;
	do {				/* optional fields, then "-" */
		if (!field(line, n, &at, &f, &flen))
			return -1;
	} while (flen != 1 || f[0] != '-');
	if (!field(line, n, &at, &l->type, &l->typelen) ||
	    l->typelen > FSTYPE_MAX || memchr(l->type, '\0', l->typelen) ||
	    !field(line, n, &at, &f, &flen))	/* source */
		return -1;
	/* The super options: the rest (none at all on some kernels). */
	l->opts = at < n ? line + at : line + n;
	l->optlen = at < n ? n - at : 0;
	return 0;
}

int
fsshare_find(const char *buf, size_t len, uint64_t id, unsigned major,
    unsigned minor, struct fsmount *m)
{
	struct mline	 l;
	const char	*nl;
	size_t		 at, n;

	for (at = 0; at < len; at += n + 1) {
		nl = memchr(buf + at, '\n', len - at);
		n = nl != NULL ? (size_t)(nl - (buf + at)) : len - at;
		if (n > MOUNTINFO_LINE_MAX || line_parse(buf + at, n, &l) == -1)
			continue;
		if (id != 0 ? l.id != id :
		    l.major != major || l.minor != minor)
			continue;
		memcpy(m->fstype, l.type, l.typelen);
		m->fstype[l.typelen] = '\0';
		fsshare_judge(m->fstype, l.opts, l.optlen, m);
		return 1;
	}
	return 0;
}

/* The file, whole, when at most MOUNTINFO_MAX: malloc'd, or NULL. */
static char *
slurp(const char *path, size_t *lenp)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 r = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return NULL;
	if ((buf = malloc(MOUNTINFO_MAX + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	/* procfs hands it out a page or so at a time. */
	while (len <= MOUNTINFO_MAX &&
	    (r = read(fd, buf + len, MOUNTINFO_MAX + 1 - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (r != 0 || len > MOUNTINFO_MAX) {
		free(buf);
		return NULL;
	}
	*lenp = len;
	return buf;
}

/* A common local type told by its magic: 1 (m filled), or 0. */
static int
local_magic(int fd, struct fsmount *m)
{
	struct statfs	sf;
	size_t		i;

	if (fstatfs(fd, &sf) == -1)
		return 0;
	for (i = 0; i < sizeof(local_magics) / sizeof(local_magics[0]); i++)
		if ((uint32_t)sf.f_type == local_magics[i].magic) {
			strcpy(m->fstype, local_magics[i].type);
			fsshare_judge(m->fstype, "", 0, m);
			return 1;
		}
	return 0;
}

int
fsshare_of_fd(int fd, struct fsmount *m)
{
	const char	*path = TEST_HOOK("TEST_POP3D_MOUNTINFO");
	struct statx	 stx;
	char		*buf;
	size_t		 len;
	uint64_t	 id = 0;
	int		 found;

	if (path == NULL && local_magic(fd, m))
		return 1;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) == -1)
		return 0;
	/* The mount id is exact; a device number can be a btrfs
	 * subvolume's own, which no line names. */
	if (stx.stx_mask & STATX_MNT_ID)
		id = stx.stx_mnt_id;
	if ((buf = slurp(path != NULL && *path != '\0' ? path :
	    "/proc/self/mountinfo", &len)) == NULL)
		return 0;
	found = fsshare_find(buf, len, id, stx.stx_dev_major,
	    stx.stx_dev_minor, m);
	free(buf);
	return found;
}

int64_t
fsshare_clock_offset(void)
{
	const char	*s = TEST_HOOK("TEST_POP3D_CLOCK_OFFSET");
	uint64_t	 v;
	int		 neg;

	if (s == NULL)
		return 0;
	neg = *s == '-';
	if (num_parse(s + neg, 0, 86400, &v) == -1)
		return 0;
	return neg ? -(int64_t)v : (int64_t)v;
}

int
fsshare_flock(int fd, int op)
{
	const char	*s = TEST_HOOK("TEST_POP3D_FLOCK_ERRNO");
	uint64_t	 e;

	if (s != NULL && num_parse(s, 1, 4095, &e) == 0) {
		errno = (int)e;
		return -1;
	}
	return flock(fd, op);
}

int
fsshare_touch(int fd, int64_t *now)
{
	struct timespec	ts[2];
	struct stat	st;
	int64_t		off = fsshare_clock_offset();

	if (off != 0) {
		if (clock_gettime(CLOCK_REALTIME, &ts[0]) == -1)
			return -1;
		ts[0].tv_sec += off;
		ts[1] = ts[0];
	}
	if (futimens(fd, off != 0 ? ts : NULL) == -1 || fstat(fd, &st) == -1)
		return -1;
	*now = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return 0;
}
