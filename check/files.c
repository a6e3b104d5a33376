/*
 * The files and users the chain relies on, checked with the chain's own
 * readers and checks: users.cdb (userdb.c), rules.cdb (rulesdb.c), the
 * chroot (privdrop_prepare), the state directory (statedir_own).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdbcheck.h"
#include "check.h"
#include "fsshare.h"
#include "log.h"
#include "penalty.h"
#include "pop3d_limits.h"
#include "privdrop.h"
#include "rules.h"
#include "user.h"
#include "userdb.h"

/*
 * Is the database at least as new as its text file?  A text file edited
 * after the last compile is not in force.
 */
static void
check_fresh(const char *what, const char *db, const char *text,
    const char *how)
{
	struct stat	sd, st;

	if (text == NULL || stat(text, &st) == -1) {
		say("ok", what, "%s: no text file %s to compare with", db,
		    text != NULL ? text : "named");
		return;
	}
	if (stat(db, &sd) == -1)
		return;
	if (st.st_mtim.tv_sec > sd.st_mtim.tv_sec ||
	    (st.st_mtim.tv_sec == sd.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec > sd.st_mtim.tv_nsec))
		say("error", what, "%s is older than %s: run %s", db, text,
		    how);
	else
		say("ok", what, "%s is not older than %s", db, text);
}

/* The uids of the mail users, for the pre-login user's check. */
static uid_t	*mail_uids;
static size_t	 mail_nuids;

void
check_users(void)
{
	static struct userdb	 db;
	struct user		 u;
	const unsigned char	*k, *v;
	unsigned		 pos = 2048, klen, vlen;
	unsigned long		 n = 0;
	const char		*path = check_value("POP3D_USERS_CDB"), *why;
	char			 name[USERS_LINE_MAX + 1];
	uid_t			*more;
	int			 r;

	if (userdb_open(&db, path) == -1) {
		say("error", "users", "cannot open users database %s: %s",
		    path, errno == EINVAL ? db.why : strerror(errno));
		return;
	}
	if (cdbcheck_verify(&db.cdb, &n) != 0) {
		say("error", "users", "%s: damaged: run pop3d-users compile",
		    path);
		userdb_close(&db);
		return;
	}
	n = 0;
	while ((r = cdbcheck_next(&db.cdb, &pos, &k, &klen, &v, &vlen)) == 1) {
		if (klen == 0 || k[0] == '\0')
			continue;
		if (vlen > USERS_LINE_MAX || klen >= sizeof(name)) {
			r = -2;
			break;
		}
		/* Its own copy: the lookup compares it with the record's. */
		memcpy(name, k, klen);
		name[klen] = '\0';
		if ((r = userdb_lookup(&db, name, &u, &why)) != 1) {
			say("error", "users", "%s: user %.*s: %s", path,
			    (int)klen, (const char *)k, why != NULL ? why :
			    "record not found");
			continue;
		}
		n++;
		if ((more = reallocarray(mail_uids, mail_nuids + 1,
		    sizeof(*more))) == NULL)
			die(EXIT_CANNOT, "%s", strerror(errno));
		mail_uids = more;
		mail_uids[mail_nuids++] = u.uid;
	}
	userdb_close(&db);
	if (r == -2)
		say("error", "users", "%s: damaged record: run pop3d-users"
		    " compile", path);
	else
		say("ok", "users", "%s: %lu users", path, n);
	check_fresh("users", path, check_value("POP3D_USERS_FILE"),
	    "pop3d-users compile");
}

void
check_rules(void)
{
	struct rulesdb	 db;
	const char	*env = getenv("POP3D_RULES"), *path;
	char		 text[PATH_MAX];
	unsigned long	 n;
	size_t		 len;
	int		 r;

	if (env != NULL && *env == '\0') {
		say("ok", "rules", "POP3D_RULES is empty: no rules");
		return;
	}
	path = check_value("POP3D_RULES");
	if ((r = rulesdb_open(&db, path)) == -1 && errno == ENOENT &&
	    env == NULL) {
		say("warn", "rules", "%s: missing: every address is allowed",
		    path);
		return;
	}
	if (r == -1) {
		say("error", "rules", "cannot open rules database %s: %s",
		    path, strerror(errno));
		return;
	}
	if (r == -2) {
		say("error", "rules", "%s: damaged, or not a pop3d rules"
		    " database of this version: run pop3d-rules compile",
		    path);
		return;
	}
	r = rulesdb_rules(&db, &n);
	rulesdb_close(&db);
	if (r != 0) {
		say("error", "rules", "%s: damaged record: run pop3d-rules"
		    " compile", path);
		return;
	}
	say("ok", "rules", "%s: %lu rule records", path, n);
	/* rules.cdb is compiled from rules (pop3d-rules.8). */
	len = strlen(path);
	if (len > 4 && len < sizeof(text) &&
	    strcmp(path + len - 4, ".cdb") == 0) {
		memcpy(text, path, len - 4);
		text[len - 4] = '\0';
		check_fresh("rules", path, text, "pop3d-rules compile");
	}
}

/* ---- directories and the pre-login user ---- */

void
check_chroot(void)
{
	struct privdrop	 pd;
	const char	*user = check_value("POP3D_PREAUTH_USER");
	const char	*dir = check_value("POP3D_CHROOT");
	const char	*given = getenv("POP3D_PREAUTH_USER");
	struct passwd	*pw;
	size_t		 i;

	check_log_clear();
	if (privdrop_prepare(&pd, user, dir) == -1) {
		say("error", "chroot", "%s: %s", dir, check_log_text());
		return;
	}
	if (!pd.root) {
		say("warn", "chroot", "%s: not checked: not run as root (the"
		    " programs chroot only when started as root)", dir);
		return;
	}
	say("ok", "chroot", "%s: a directory owned by root, writable by no"
	    " one else", dir);
	if ((pw = getpwnam(user)) == NULL)
		say("error", "preauth-user", "no user %s: the pre-login"
		    " processes would run as nobody", user);
	if (strcmp(pd.user, "nobody") == 0 && (given == NULL ||
	    strcmp(given, "nobody") != 0))
		say("error", "preauth-user", "nobody: shared with other"
		    " services; create the user %s (or set"
		    " POP3D_PREAUTH_USER=nobody to accept it)", user);
	else if (strcmp(pd.user, "nobody") == 0)
		say("warn", "preauth-user", "nobody (POP3D_PREAUTH_USER):"
		    " shared with other services");
	for (i = 0; i < mail_nuids; i++)
		if (mail_uids[i] == pd.uid) {
			say("error", "preauth-user", "%s: uid %lu is a mail"
			    " user's uid: pop3d-auth refuses its logins and"
			    " the pre-login processes could signal its"
			    " sessions", pd.user, (unsigned long)pd.uid);
			return;
		}
	say("ok", "preauth-user", "%s: uid %lu, gid %lu, no mail user's uid",
	    pd.user, (unsigned long)pd.uid, (unsigned long)pd.gid);
}

void
check_statedir(void)
{
	const char	*dir = check_value("POP3D_STATE_DIR");
	struct stat	 st;

	if (lstat(dir, &st) == -1 && errno == ENOENT) {
		say("warn", "state-dir", "%s: missing: the front makes it"
		    " (mode 0700) at its first connection", dir);
		return;
	}
	if (statedir_own(dir) == -1) {
		say("error", "state-dir", "%s: %s", dir, errno == EPERM ?
		    "must be owned by the uid the front runs as and writable"
		    " by no one else" : errno == ELOOP ?
		    "a symbolic link" : strerror(errno));
		return;
	}
	say("ok", "state-dir", "%s: owned by uid %lu, writable by no one"
	    " else", dir, (unsigned long)geteuid());
	check_locks("state-dir", dir);
}

void
check_locks(const char *what, const char *dir)
{
	struct fsmount	m;
	int		fd, found;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	found = fsshare_of_fd(fd, &m);
	close(fd);
	/* One host's own file system: nothing to say. */
	if (found != 1 || m.share == FS_LOCAL)
		return;
	if (m.share == FS_SHARED)
		say("ok", what, "%s: on %s, whose locks hold across hosts",
		    dir, m.fstype);
	else
		say("warn", what, "%s: on %s, %s: with several hosts on it,"
		    " its locks may hold on this host only", dir, m.fstype,
		    m.why);
}
