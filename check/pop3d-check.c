/*
 * pop3d-check: the configuration as the chain would see it, checked with
 * the chain's own code (pop3d-check.8).  One line per check, "ok", "warn"
 * or "error", the thing checked, a colon and the detail; exit 0 when no
 * check found an error, 1 when one did, 2 for misuse, 111 when a check
 * could not run at all.
 *
 * It reads every setting through the table of lib/settings.c, opens the
 * databases with the readers pop3d-auth and the front use, checks the
 * directories with privdrop_prepare and statedir_own, and tests a login
 * by running the real pop3d-auth with itself (--report-maildrop) as the
 * next stage, which reports the maildrop and changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "version.h"

#define USAGE \
	"usage: pop3d-check [check] [address]\n" \
	"       pop3d-check settings [address]\n" \
	"       pop3d-check login user [maildir]\n" \
	"       pop3d-check --help | --version\n"

/* Misuse: on stderr, exit 2. */
static void __attribute__((noreturn))
usage(void)
{
	fputs(USAGE, stderr);
	exit(EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	const char	*cmd = argc > 1 ? argv[1] : "check";

	log_init(argv[0]);
	log_cli();
	version_help(argc, argv, "pop3d-check", USAGE);
	if (argc > 1 && strcmp(cmd, "--report-maildrop") == 0) {
		if (argc > 3)
			usage();
		return check_report_maildrop(argc, argv);
	}
	check_log_start();
	if (strcmp(cmd, "login") == 0) {
		if (argc < 3 || argc > 4)
			usage();
		return check_login(argv[0], argv[2], argc > 3 ? argv[3] :
		    NULL);
	}
	if (strcmp(cmd, "settings") == 0) {
		if (argc > 3)
			usage();
		check_settings(argc > 2 ? argv[2] : NULL);
		return check_errors() > 0 ? EXIT_ERRORS : 0;
	}
	if (strcmp(cmd, "check") == 0) {
		argv++;
		argc--;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		usage();
	check_settings(argc > 1 ? argv[1] : NULL);
	check_users();
	check_rules();
	check_chroot();
	check_statedir();
	check_tls();
	return check_errors() > 0 ? EXIT_ERRORS : 0;
}
