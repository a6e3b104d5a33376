/*
 * pop3d-passwd's dialogue process: the poppassd dialogue, run with no
 * privileges in the chroot.  It reads and parses the client's lines,
 * answers what needs no privilege itself (commands out of order, unknown
 * ones, lines too long), and sends the privileged process the user, the
 * passwords and how the dialogue ended (passwd/pwipc.h); it phrases the
 * verdicts it gets back.  It opens nothing and logs nothing.
 */
#ifndef POP3D_DIALOGUE_H
#define POP3D_DIALOGUE_H

struct dialogue_settings {
	unsigned	 min;		/* POP3D_PASSWD_MIN, for the replies */
	int		 idle_ms;	/* POP3D_PASSWD_IDLE */
	int		 session_ms;	/* POP3D_PASSWD_TIMEOUT */
};

/*
 * Serves the client on fd 0/1 with the privileged process on fd ipc,
 * from the greeting to the end, which it reports (PWIPC_END); never
 * returns.  The privilege drop is done, and io_catch_signals too (before
 * it: no signal handler is set after the drop); it uses only reads,
 * writes and waits on the descriptors it has.
 */
void	dialogue_run(const struct dialogue_settings *, int)
	    __attribute__((noreturn));

#endif
