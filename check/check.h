/*
 * pop3d-check's modules (pop3d-check.8): each check prints its lines
 * through check_say and counts its errors there.
 */
#ifndef POP3D_CHECK_H
#define POP3D_CHECK_H

#define EXIT_ERRORS	1
#define EXIT_USAGE	2
#define EXIT_CANNOT	111

/*
 * One line, "ok|warn|error what: detail", on stdout at once; an "error"
 * is counted.  Control characters of names from the environment or a
 * file are shown as '?', so that a line stays one line.  (A short name:
 * it is the one verb of every check.)
 */
void	say(const char *, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* The number of "error" lines so far. */
int	check_errors(void);

/*
 * The lines that the reused modules (privdrop.c, ...) log go to a buffer
 * from check_log_start on, so that a failed check can quote them:
 * cleared by check_log_clear, read by check_log_text.
 */
void	check_log_start(void);
void	check_log_clear(void);
const char *check_log_text(void);

/* A setting's value: the environment's, else the table's default. */
const char *check_value(const char *);

/* listing.c: every setting with its source, unknown POP3D_ names. */
void	check_settings(const char *);

/* files.c: the databases, the directories and the pre-login user. */
void	check_users(void);
void	check_rules(void);
void	check_chroot(void);
void	check_statedir(void);

/*
 * Whether the locks of the file system holding dir reach other hosts
 * (fsshare.h): an "ok" line on a network file system that shares them, a
 * "warn" line where they may stay on this host, nothing on a local one.
 */
void	check_locks(const char *, const char *);

/* x509.c: the certificates and keys (the only file using libcrypto). */
void	check_tls(void);

/* login.c: "login" (argv[0], user, maildir or NULL) and its next stage. */
int	check_login(const char *, const char *, const char *);
int	check_report_maildrop(int, char **);

#endif
