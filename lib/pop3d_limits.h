/*
 * Every limit pop3d puts on what it reads, in one place, each with the
 * reason for its value.  A limit that an operator may lower or raise through
 * the environment has its default and its hard bounds here; the man pages
 * quote these numbers.
 */
#ifndef POP3D_LIMITS_H
#define POP3D_LIMITS_H

/*
 * RFC 2449 section 4: a command line is at most 255 octets including the
 * CRLF.  Longer lines are refused with -ERR and the session goes on.  The
 * line end counts as it came: a bare LF leaves 254 octets of text.
 */
#define POP3_CMD_MAX		255

/*
 * No client needs more than a response line's 512 octets (RFC 2449) for a
 * command; a line beyond that is hostile: answered once, logged, and the
 * session ends without reading the rest.
 */
#define POP3_LINE_HOSTILE	512
#define POP3_LINE_TEXT_MAX	(POP3_LINE_HOSTILE - 1)

/* Replies we compose stay within RFC 2449's 512 octets with CRLF. */
#define POP3_REPLY_MAX		512

/*
 * RFC 1939 keywords are 3 or 4 characters; extensions (XTND) stay short.
 * A longer first word cannot name a command we know.
 */
#define POP3_VERB_MAX		8

/* No POP3 command takes more than 2 arguments (TOP, APOP, AUTH). */
#define POP3_ARGS_MAX		2

/*
 * RFC 1939 section 3: the autologout timer is at least 10 minutes.
 * Operators may shorten it (at their clients' risk), never to nothing.
 */
#define POP3_IDLE_DEFAULT	600
#define POP3_IDLE_MIN		1
#define POP3_IDLE_MAX		86400

/*
 * Messages served in one session.  Each costs about 130 bytes of memory
 * and one LIST/UIDL line; past the setting the newest are served (so that
 * new mail shows) and the older wait for a later session.  The hard
 * maximum bounds memory at about 130 MB even when an operator raises it.
 */
#define MAILDROP_MSGS_DEFAULT	200000
#define MAILDROP_MSGS_MIN	1
#define MAILDROP_MSGS_MAX	1000000

/*
 * The maildrop cache (pop3d-maildrop.8) holds one record per message: 56
 * octets of order, identity and sizes, the name (at most 255 octets and a
 * NUL) and a UIDL (at most UIDL_MAX).  A larger file cannot belong to
 * MAILDROP_MSGS_MAX messages: it is ignored unread.
 */
#define SCANCACHE_FILE_MAX	(MAILDROP_MSGS_MAX * 384L)

/*
 * A directory's mtime counts as proof that nothing changed only when it
 * was at least this old before the scan began: a change made within the
 * file system's timestamp tick could otherwise leave the mtime as it was.
 * "Before" is by the file system's own clock (the lock file is touched
 * and read back), so that a skewed NFS server's clock does not fool it.
 */
#define SCANCACHE_SETTLE_SEC	2

/*
 * Where each host stamps the directories with its own clock (a cluster
 * file system, SMB, or one pop3d cannot tell: fsshare.h), a list is used
 * only when the directories had been unchanged this much longer: a host
 * whose clock is behind by up to this much cannot then make a fresh mtime
 * look settled.  Clocks further apart than this void that proof.
 */
#define SCANCACHE_SKEW_SEC	600

/*
 * /proc/self/mountinfo, read to tell whether the maildrop's and the state
 * directory's locks are shared (fsshare.h): at most this much of it (a
 * host with tens of thousands of mounts is told nothing), lines of at
 * most MOUNTINFO_LINE_MAX octets, a type of at most FSTYPE_MAX.
 */
#define MOUNTINFO_MAX		(4L * 1024 * 1024)
#define MOUNTINFO_LINE_MAX	16384
#define FSTYPE_MAX		63

/*
 * The mbox index (mbox_cache.h) holds one record per message: 42 octets
 * of offsets, sizes and flags and a UIDL (at most UIDL_MAX), after a
 * 152-octet header.  A larger file cannot belong to
 * MBOX_CACHE_MAX_RECORDS messages: it is ignored unread.
 */
#define MBOX_CACHE_MAX_RECORDS	MAILDROP_MSGS_MAX
#define MBOX_CACHE_FILE_MAX	(152 + 8 + MBOX_CACHE_MAX_RECORDS * \
				    (42L + UIDL_MAX))

/*
 * Another program (an IMAP server changing flags, a client moving new/
 * to cur/) may rename a message while pop3d-maildrop reads the directory,
 * and readdir may then return the file under neither name.  A scan reads
 * new/ and cur/ again until a pass finds no message it had not seen: at
 * least 2 passes and at most MAILDIR_SCAN_PASSES (mail arriving all the
 * time must not keep it reading for ever; it lists what it found).  A
 * message looked for again after a rename counts as gone only when
 * MAILDIR_LOCATE_PASSES reads of the directories in a row missed it
 * (each read finds every listed message at once); following one
 * message through renames (stat, open or remove, each time finding its
 * new name) gives up after MAILDIR_RENAME_TRIES names, and then says it
 * could not, never that the message is gone.  Each pass costs a read of
 * the directories, so these stay small: a miss needs a rename within the
 * same pass, in an unlucky direction, each time.
 */
#define MAILDIR_SCAN_PASSES	4
#define MAILDIR_LOCATE_PASSES	3
#define MAILDIR_RENAME_TRIES	8

/* RFC 1939 section 7: a unique-id is 1 to 70 characters 0x21 to 0x7E. */
#define UIDL_MAX		70

/*
 * UIDLs carried over from Dovecot (pop3d-maildrop.8, UIDL): the files are
 * the mail user's to write, so each is read only up to a size no real one
 * reaches, else ignored unread (and logged).  dovecot-uidlist has a line
 * per message, about 60 to 150 octets ("<uid> G<guid> W<vsize> S<size>
 * :<base name>"), a longer line is left out (the same for Courier's
 * courierpop3dsizelist, whose own reader stops at 2048); pop3d's own record
 * (pop3d-uidl.map) a UIDL and a base name per line, at most
 * MAILDROP_MSGS_MAX of them kept.
 */
#define DOVECOT_UIDLIST_MAX	(MAILDROP_MSGS_MAX * 256L)
/* Courier's courierpop3dsizelist: a file name with flags, size and uids. */
#define COURIER_SIZELIST_MAX	(MAILDROP_MSGS_MAX * 384L)
#define DOVECOT_LINE_MAX	1024
#define UIDMAP_ENTRIES_MAX	MAILDROP_MSGS_MAX
/*
 * Room for every entry at its longest (UIDL_MAX, a base name of NAME_MAX
 * 255, a space and a newline) and the magic line: a map pop3d wrote
 * itself is never too large to read back (asserted in carry.c).
 */
#define UIDMAP_FILE_MAX		(UIDMAP_ENTRIES_MAX * 328L)

/* The pop3_uidl_format a site used with Dovecot (POP3D_DOVECOT_UIDL_FORMAT). */
#define DOVECOT_FORMAT_MAX	64

/* EXPIRE (RFC 2449 section 6.7) in days; NEVER is spelled out. */
#define EXPIRE_DAYS_MAX		9999

/* The IMPLEMENTATION capability's text: one short printable line. */
#define IMPLEMENTATION_MAX	64

/*
 * XTND XMIT (off unless POP3D_XTND_XMIT=1): a message the client sends
 * for submission.  It is spooled to an unlinked file in the maildrop's
 * tmp/ until its final "." (a partial message is never submitted), so its
 * size costs disk, not memory.  POP3D_XMIT_MAX bounds that disk, counted
 * as LIST counts (CRLF line ends, no dot-stuffing): 10 MB by default, the
 * size most submission servers take; 100 MB at most.
 */
#define XMIT_SIZE_DEFAULT	10485760
#define XMIT_SIZE_MIN		1024
#define XMIT_SIZE_MAX		104857600

/*
 * RFC 5322 section 2.1.1: a line is at most 998 characters.  On the wire
 * it may carry a stuffing dot and its CRLF besides.  A message with a
 * longer line is read to its end and refused.
 */
#define XMIT_LINE_TEXT_MAX	998
#define XMIT_LINE_MAX		(XMIT_LINE_TEXT_MAX + 3)

/*
 * Seconds the whole message may take to arrive (POP3D_XMIT_TIMEOUT), on
 * top of the idle timeout for each line: 10 MB at 64 kbit/s take 22
 * minutes, and a client trickling octets must not hold the session.
 */
#define XMIT_TIMEOUT_DEFAULT	1800
#define XMIT_TIMEOUT_MIN	10
#define XMIT_TIMEOUT_MAX	86400

/*
 * Seconds the submission program may run (POP3D_XMIT_COMMAND_TIMEOUT),
 * the client waiting for its answer; then it gets SIGTERM, and SIGKILL
 * XMIT_KILL_GRACE_MS later.  sendmail queues and returns in well under a
 * second.
 */
#define XMIT_RUN_DEFAULT	60
#define XMIT_RUN_MIN		1
#define XMIT_RUN_MAX		3600
#define XMIT_KILL_GRACE_MS	2000

/*
 * POP3D_XMIT_COMMAND: a path and its arguments as an operator types them,
 * split at spaces (no shell).  "-f USER" and the end of argv take three
 * more slots.
 */
#define XMIT_COMMAND_MAX	1024
#define XMIT_ARGS_MAX		32

/*
 * Buffers: input is read in small gulps (commands are short), output and
 * message bodies in large ones so that a multi-line reply goes out in as
 * few writes as possible.
 */
#define IO_INBUF		1024
#define IO_OUTBUF		65536
#define IO_FILEBUF		65536

/*
 * After a hostile line the rest of it is still on its way: closing with
 * unread input makes TCP send a reset that can destroy the reply before the
 * client reads it.  So the end is a lingering close: FIN, then input is
 * read and dropped until the client closes, for at most this long and this
 * much.
 */
#define IO_LINGER_MS		2000
#define IO_LINGER_MAX		65536

/*
 * Waiting for a child (lib/child.c): after SIGKILL it is reaped within
 * CHILD_REAP_MS, or given up for stuck in the kernel (the parent goes on;
 * init reaps it later).  Without a pidfd to sleep on, the wait naps at
 * most CHILD_NAP_MAX_MS between looks.
 */
#define CHILD_REAP_MS		2000
#define CHILD_NAP_MAX_MS	50

/* Values quoted in log lines are cut at this length. */
#define LOG_VALUE_MAX		128

/*
 * A connection's id in every log line (POP3D_SESSION): the front makes 8
 * hex digits (32 random bits, unique enough among the connections of a
 * log's span); lines accept up to 16, so that an id never costs a line
 * more than " session=" and 16 octets.
 */
#define SESSION_ID_LEN		8
#define SESSION_ID_MAX		16


/* ---- the front (pop3d) ---- */

/* A user name as USER or APOP gives it: longer ones are no account's. */
#define POP3_USER_MAX		128

/* The checkpassword interface: user, secret and timestamp on fd 3. */
#define CHECKPASSWORD_MAX	512

/* The greeting text an operator may set (RFC 2449: lines of 512). */
#define GREETING_MAX		400

/* The host name in the APOP timestamp, as DNS allows. */
#define HOSTNAME_MAX		253

/* Characters an operator may let stand for '@' in user names. */
#define ALT_AT_MAX		8

/* Failed logins before the connection ends, and the pause after each. */
#define AUTH_FAILURES_DEFAULT	3
#define AUTH_FAILURES_MAX	100
#define AUTH_DELAY_DEFAULT	2
#define AUTH_DELAY_MAX		60

/* The whole AUTHORIZATION phase, against slow clients (slow-loris). */
#define LOGIN_TIMEOUT_DEFAULT	120
#define LOGIN_TIMEOUT_MAX	3600

/* LOGIN-DELAY (RFC 2449 section 6.8), seconds. */
#define LOGIN_DELAY_MAX		86400

/*
 * The pre-login process: descriptors (0, 1, 2 and the one to the front),
 * memory and file size, so that a bug in the code that parses strangers'
 * input has little to work with.
 */
#define PREAUTH_NOFILE		8
#define PREAUTH_AS		(64L * 1024 * 1024)

/*
 * The pre-login process's log lines (debug dialogue, its errors) reach
 * the log only through the front (IPC_LOG), which writes each as one
 * quoted value: a line's text is cut at LOG_VALUE_MAX octets, and at
 * most PREAUTH_LOG_LINES are written per connection (a debugged dialogue
 * of 100 commands has some 200), so that no client floods the log.
 */
#define PREAUTH_LOG_LINES	256

/*
 * The front's side of TLS (front/starttls.c).  The relay's status pipe
 * carries a word and at most three TLS facts; a fact longer than this is
 * a broken relay.  The relay bounds the handshake itself; the front gives
 * up on a relay silent for longer than any handshake may take, and one
 * that has not loaded its certificate in TLS_READY_TIMEOUT seconds.
 */
#define TLS_FACT_MAX		255
#define TLS_STATUS_MAX		(8 + 3 * (32 + TLS_FACT_MAX))
#define TLS_READY_TIMEOUT	10
#define TLS_WAIT_TIMEOUT	330

/*
 * When the session is over the front closes the plaintext side and waits
 * for the relay: it has POP3D_IDLE_TIMEOUT for the client to take the
 * rest, TLS_CLOSE_MS for close_notify and IO_LINGER_MS for the lingering
 * close; past those and this grace it is killed.
 */
#define TLS_END_GRACE_MS	5000

/*
 * The front's wait for the pre-login process: it ends itself once
 * POP3D_LOGIN_TIMEOUT has passed since it started (its last reply gets
 * no more time), so one still there this long after is stopped or stuck.
 */
#define PREAUTH_GRACE_MS	5000

/*
 * The front's wait for the chain it handed the client to (the auth stage
 * and the mail session after it): at most a day.  The stages bound their
 * own waits (POP3D_IDLE_TIMEOUT between commands), but a client that
 * keeps a session busy could hold it, and the front, for ever; no POP3
 * session needs a day (a 1 GB mailbox downloads in 3 hours at 1 Mbit/s).
 * The front cannot tell pop3d-auth checking a password from a plain
 * checkpassword program running the session (it says nothing on fd 4),
 * so the auth stage has this bound too; pop3d-auth bounds its own work.
 */
#define FRONT_SESSION_MAX	86400

/*
 * A login finding its address's logins in flight at the threshold waits
 * its turn in a first-come-first-served queue, asleep, at most this long,
 * then is told to try later (policy/penalty_queue.c).  Without inotify
 * (root's limit of instances reached) the queue's head looks again every
 * LOGIN_BUSY_STEP_MS instead of being woken.
 */
#define LOGIN_BUSY_WAIT_MS	3000
#define LOGIN_BUSY_STEP_MS	20

/*
 * SASL (AUTH, RFC 5034).  A response line may be longer than a command
 * (RFC 5034 section 4); one over SASL_LINE_MAX octets is refused and the
 * exchange reset, one over SASL_LINE_HOSTILE is hostile input.  Decoded,
 * a password is at most SASL_SECRET_MAX octets (the checkpassword data
 * must hold it with the user and the timestamp anyway).
 */
#define SASL_LINE_MAX		2048
#define SASL_LINE_HOSTILE	8192
#define SASL_SECRET_MAX		(CHECKPASSWORD_MAX - 2)

/*
 * The IPv6 prefix that names one client in the penalty box and the
 * connection limit (POP3D_PENALTY_PREFIX6): a site usually gets a /64 or
 * more, so counting single addresses would let it take a fresh one per
 * connection; a /32 is a whole provider.
 */
#define PENALTY_PREFIX6_DEFAULT	64
#define PENALTY_PREFIX6_MIN	32


/* ---- auth: pop3d-auth and pop3d-users ---- */

/* A user name: the longest the front hands on, so every account can log in. */
#define USERS_NAME_MAX		POP3_USER_MAX

/*
 * A crypt(3) hash: the longest libxcrypt makes for the accepted methods is
 * sha512-crypt with "rounds=" (about 120 octets); yescrypt and bcrypt are
 * shorter.  Twice that leaves room for tuned parameters.
 */
#define USERS_HASH_MAX		256

/* The home directory and the maildrop: a path an operator types. */
#define USERS_PATH_MAX		1024

/*
 * The APOP secret: a shared secret typed by the user into the client, not
 * a hash; 128 characters is more than any client's field takes.
 */
#define USERS_APOP_MAX		128

/*
 * A password set with pop3d-users: the longest argument PASS can carry in
 * RFC 2449's 255-octet command line ("PASS " and CRLF take 7).  A longer
 * one could never be typed at login.
 */
#define USERS_PASSWORD_MAX	(POP3_CMD_MAX - 7)

/* uid and gid: 0 is root (refused); (uid_t)-1 means "no change" to setuid. */
#define USERS_ID_MIN		1
#define USERS_ID_MAX		4294967294UL

/*
 * The policy field of a record: "expire=NEVER,login-delay=86400" is 31
 * octets, ",uidl-format=" and a format of DOVECOT_FORMAT_MAX 77 more;
 * room for a few more keys to come.
 */
#define USERS_POLICY_MAX	128

/* One line of the users file: every field at its longest, and 7 colons. */
#define USERS_LINE_MAX		(USERS_NAME_MAX + USERS_HASH_MAX + 2 * 10 + \
				    2 * USERS_PATH_MAX + USERS_APOP_MAX + \
				    USERS_POLICY_MAX + 7)

/*
 * Accounts in one users file: compiling keeps about 24 octets per record
 * in memory, and the database stays far below cdb's 4 GB.
 */
#define USERS_COUNT_MAX		1000000

/*
 * The cost of the hashes pop3d-users writes: near the work of libxcrypt's
 * default yescrypt ($y$j9T$, some 20 ms a guess on a 2020s x86 core), so
 * that no method is a cheaper target than another and a wrong password
 * costs about the same whatever the method.  sha512-crypt's default 5000
 * rounds and bcrypt's 5 take 1.5 ms: 80000 rounds take about 20 ms; bcrypt
 * doubles its work per step, so 9 (some 26 ms) is the nearest cost not
 * below yescrypt's (8 takes 13 ms).  Measured with bench/authtime.py.
 */
#define PASSWD_SHA512_ROUNDS	80000
#define PASSWD_BCRYPT_COST	9

/*
 * The settings (method and cost, without salt) counted at compile time to
 * find the one most accounts use, which the dummy hash for unknown users
 * takes: a file using more distinct ones than this is tuned by no one, and
 * those seen after are left out of the count.
 */
#define USERS_SETTINGS_MAX	64

/*
 * How long pop3d-auth waits for the front to write fd 3 and close it: the
 * front writes at most CHECKPASSWORD_MAX octets at once, so a stall means
 * a broken front, not a slow client.
 */
#define AUTH_FD3_TIMEOUT	10

/*
 * The CRAM-MD5 challenge.  The front sends it base64-encoded after "+ "
 * in a reply line, which RFC 2449 bounds at 512 octets with its CRLF:
 * 508 octets of base64 carry 381.  A longer challenge could never have
 * reached the client, so pop3d-auth takes it for a broken front's.
 */
#define CRAM_CHALLENGE_MAX	381

/*
 * pop3d-passwd, the poppassd protocol (port 106).  A line is a verb and
 * one argument: "newpass " with the longest password and CRLF takes 258
 * octets.  A longer line is no client's: it is answered with 500, the
 * session ends and the address is blocked as for hostile input.
 */
#define PASSWD_LINE_MAX		POP3_LINE_HOSTILE

/*
 * A new password: at least POP3D_PASSWD_MIN characters (an operator may
 * ask for more, never for none), at most what PASS can carry at login
 * (USERS_PASSWORD_MAX).
 */
#define PASSWD_MIN_DEFAULT	8
#define PASSWD_MIN_MIN		1
#define PASSWD_MIN_MAX		64

/*
 * A client types three lines: an idle client is dropped after
 * POP3D_PASSWD_IDLE seconds, and the whole dialogue may last at most
 * POP3D_PASSWD_TIMEOUT (a slow-loris holds a root process otherwise).
 */
#define PASSWD_IDLE_DEFAULT	60
#define PASSWD_TIMEOUT_DEFAULT	180
#define PASSWD_TIMEOUT_MAX	3600

/*
 * The dialogue process keeps those deadlines itself; the privileged
 * process kills it when it has not ended this long after the dialogue's
 * deadline (moved by the time the dialogue waited for the check and the
 * change), or after a signal it must still phrase: enough for a last
 * reply, and IO_LINGER_MS after a hostile line.
 */
#define PASSWD_END_GRACE_MS	5000

/*
 * One line of a file pop3d-users import reads (a Dovecot passwd-file,
 * /etc/passwd, /etc/shadow): a users-file line's fields plus Dovecot's
 * gecos, shell and extra fields (userdb_* settings), which a site rarely
 * makes longer than a few hundred octets.  A longer line is an error of
 * its own line, never split into two.
 */
#define IMPORT_LINE_MAX		8192

/*
 * How long an edit of the users file waits for the lock that another
 * pop3d-passwd or pop3d-users holds for one edit and compile: compiling
 * USERS_COUNT_MAX records takes seconds, so a longer wait means a stuck
 * process, and the change is refused as temporary (ETIMEDOUT).
 */
#define USERS_LOCK_TIMEOUT_MS	30000


/* ---- policy: pop3d-rules, the penalty box, connection limits ---- */

/* One line of a rules file; a longer one is an error that names it. */
#define RULES_LINE_MAX		4096

/* A pattern as written (an IPv6 CIDR with a netmask is the longest). */
#define RULE_PATTERN_MAX	128

/* Settings of one rule, a setting's name and its value. */
#define RULE_SETTINGS_MAX	32
#define RULE_NAME_MAX		64
#define RULE_VALUE_MAX		1024

/*
 * One record in rules.cdb: action, pattern, line number and settings.
 * A record longer than this is corrupt, whatever it says.
 */
#define RULE_RECORD_MAX		(RULE_PATTERN_MAX + 32 + RULE_SETTINGS_MAX * \
				    (RULE_NAME_MAX + RULE_VALUE_MAX + 2))

/*
 * Records in one rules.cdb: compiling keeps about 40 octets per record in
 * memory to find duplicates; a range expands to at most 14 records.
 */
#define RULES_COUNT_MAX		4000000

/* Failed logins that block (N), the window they count in, and the blocks. */
#define PENALTY_FAILURES_DEFAULT	5
#define PENALTY_FAILURES_MAX		100
#define PENALTY_WINDOW_DEFAULT		600
#define PENALTY_WINDOW_MAX		86400
#define PENALTY_BLOCK_DEFAULT		900
#define PENALTY_BLOCK_MAX		(30 * 86400)
#define PENALTY_HOSTILE_DEFAULT		3600

/*
 * Failed logins from one address when failures count per address and user
 * (POP3D_PENALTY_SCOPE=user): past this the whole address is blocked.
 */
#define PENALTY_ADDRESS_DEFAULT		25
#define PENALTY_ADDRESS_MAX		1000

/*
 * Per-user blocks one address's penalty record keeps at once: an office
 * behind NAT rarely has more users locked out together, and the record
 * stays small.  An active block is never evicted to make room (failures
 * under other names would lift it): one more user reaching the threshold
 * blocks the whole address instead.
 */
#define PENALTY_USERS_MAX		16

/*
 * A login attempt counts towards the thresholds from before its password
 * check until the front settles it, so that parallel connections cannot
 * run more checks than the threshold allows, and no longer than its front
 * lives: it holds a slot (an OFD lock the kernel drops when the front
 * ends, however it ends), so a killed front's attempt is free at once.
 * With a checkpassword program other than pop3d-auth the front learns of
 * a success only when the mail session ends, so an attempt still
 * unsettled after this many seconds is taken for one and stops counting
 * (its slot stays taken till then): a failed check ends well within it
 * (pop3d-auth hashes in under a second), and a longer life would let each
 * successful session hold one of its address's attempts for nothing.
 */
#define PENALTY_ATTEMPT_TTL		10

/*
 * Attempts in flight one record keeps, and slots an address has for them
 * (at most CONN_PER_ADDRESS_MAX: they are connection slots' files).  A
 * threshold refuses more long before (at most PENALTY_ADDRESS_MAX with an
 * address ceiling); this bounds the record when per-user counting has
 * none.
 */
#define PENALTY_ATTEMPTS_MAX		PENALTY_ADDRESS_MAX

/*
 * How long an update of the penalty box waits for its lock, and a taker
 * of a connection slot for a release or sweep that holds the file: a
 * holder keeps it for one small file's write, so a longer wait means a
 * stuck process, and the connection goes on without the penalty box
 * rather than hanging (ETIMEDOUT).
 */
#define PENALTY_LOCK_TIMEOUT_MS		2000

/*
 * Files of the penalty box or of the connection slots one sweep looks at
 * (about a second's work at most); the next sweep goes on from there.
 */
#define PENALTY_SWEEP_MAX		10000

/* Concurrent connections from one address (0: no limit). */
#define CONN_PER_ADDRESS_MAX		1000

/*
 * The octet of a connection slot file past its slots, which a taker
 * read-locks while it looks for a free one and a remover write-locks
 * (policy/conn.c).
 */
#define CONN_GATE			CONN_PER_ADDRESS_MAX

/* How long a session in the front's place waits for that gate (ms). */
#define CONN_GATE_WAIT_MS		2000

/*
 * The longest fs.fuse.max_request_timeout (seconds) under which a session
 * may hold its own connection slot (one process a session, pop3d-auth.8):
 * a session stuck on an unanswered FUSE request then ends this long after
 * its SIGKILL, and the kernel's check interval (15 s measured here).
 */
#define FUSE_TIMEOUT_MAX		60

/*
 * A connection slot file is removed by the last holder that releases it;
 * one left by a killed process is removed by a sweep, at most this often
 * (seconds).
 */
#define CONN_SWEEP_INTERVAL		600


/*
 * The PROXY protocol header a trusted balancer sends before anything else
 * (HAProxy's proxy-protocol.txt, policy/proxy.h).  Version 1 is a text
 * line of at most 107 octets with its CRLF, as the specification says.
 * Version 2 is a 16-octet head and a body whose length the head declares
 * (up to 65535): the addresses (at most 36 octets for TCP over IPv6) and
 * TLVs, which HAProxy keeps small (SSL facts, the SNI name of at most 255,
 * a unique id of at most 128); a body over PROXY_V2_BODY_MAX is refused
 * unread.  The header comes at once after the balancer's connect: a peer
 * that takes longer than POP3D_PROXY_TIMEOUT seconds is closed.
 */
#define PROXY_V1_MAX		107
#define PROXY_V2_HEAD		16
#define PROXY_V2_BODY_MAX	1024
#define PROXY_TIMEOUT_DEFAULT	5
#define PROXY_TIMEOUT_MAX	60

/* ---- the TLS relay (pop3d-tls) ---- */

/*
 * A certificate or key file name, as an operator writes it.  Longer than
 * PATH_MAX is no file the relay could open.
 */
#define TLS_PATH_MAX		4096

/*
 * Keypairs chosen by SNI besides the default one: each is an SSL_CTX in
 * every relay's memory and one more name check in every handshake, and no
 * POP3 server needs more names than this.  POP3D_TLS_KEYPAIRS holds at
 * most that many "cert:key" items and the blanks between them.
 */
#define TLS_KEYPAIRS_MAX	16
#define TLS_KEYPAIRS_TEXT_MAX	(TLS_KEYPAIRS_MAX * (2 * TLS_PATH_MAX + 2))

/*
 * POP3D_TLS_PROTOCOLS, _CIPHERS, _ECDHECURVES and _DHEPARAMS: OpenSSL's
 * longest useful cipher list is under 1000 characters.
 */
#define TLS_SETTING_MAX		1024

/*
 * The handshake, from "ready" to the client's Finished: a client that
 * does not complete it in this many seconds is dropped (a slow-loris would
 * otherwise hold a process for ever).  The front's TLS_WAIT_TIMEOUT is
 * longer than TLS_TIMEOUT_MAX.
 */
#define TLS_TIMEOUT_DEFAULT	30
#define TLS_TIMEOUT_MIN		1
#define TLS_TIMEOUT_MAX		300

/*
 * After the chain ended the session: the client may take the rest as
 * slowly as it likes, but one that takes nothing for POP3D_IDLE_TIMEOUT
 * (POP3_IDLE_DEFAULT) is dropped, as the chain drops it in plaintext;
 * then the close_notify has TLS_CLOSE_MS, and the lingering close that
 * follows IO_LINGER_MS and IO_LINGER_MAX.
 */
#define TLS_CLOSE_MS		5000

/*
 * While the chain runs, its stages time the client out; the relay only
 * guards against a chain or client that stops without ending: when no
 * octet moved either way for POP3D_IDLE_TIMEOUT plus this many seconds
 * (the front's POP3D_AUTH_DELAY at AUTH_DELAY_MAX, a password check and
 * a mailbox scan, during which both sides may be silent), plus
 * POP3D_XMIT_COMMAND_TIMEOUT when XTND XMIT is on (the submission program
 * runs while the client waits), the relay ends the session and logs it.
 */
#define TLS_RELAY_IDLE_MARGIN	90
/* Its setting's range (POP3D_TLS_IDLE_MARGIN: tests wait less). */
#define TLS_RELAY_IDLE_MARGIN_MIN	1
#define TLS_RELAY_IDLE_MARGIN_MAX	3600

/*
 * Rounds of the relay in a row that changed some state but moved no
 * octet: each end can be seen once, so more than this is a bug (a call
 * whose 0 was taken for progress) and ends the session, logged, rather
 * than spinning.
 */
#define TLS_RELAY_ROUNDS_MAX	16

/*
 * One buffer each way between the client and the chain, so that memory
 * does not grow with a message.  Client to chain: one TLS record's worth
 * of plaintext (2^14 octets).  Chain to client: four records, read from
 * the chain in one call as pop3d-maildrop writes them (64 KiB) and sent in
 * one tls_write(); with one record per round the relay made four times the
 * reads, each followed by a read attempt on the client that met EAGAIN
 * (strace of a 180 MB download: 30,370 reads, 12,956 of them EAGAIN).
 */
#define TLS_RELAY_BUF		16384
#define TLS_RELAY_DOWN_BUF	65536

/*
 * Confined, the relay has the pre-login process's limits (PREAUTH_NOFILE,
 * PREAUTH_AS): it holds fds 0 to 4, and with 17 keypairs loaded and a
 * connection up it maps about 10 MB.
 */

/*
 * An mbox maildrop (pop3d-maildrop.8, MBOX): POP3D_MBOX_MAX bounds the
 * file read (a bigger one is refused, the log naming it); the default,
 * 2 GiB, is what mail readers built with 32-bit file offsets could still
 * open; the maximum is what a first session reads in a few minutes.
 */
#define MBOX_MAX_DEFAULT	(2ULL << 30)
#define MBOX_MAX_MIN		1024
#define MBOX_MAX_MAX		(64ULL << 30)
/*
 * The delivery locks (fcntl, then the dotlock) are tried every
 * MBOX_LOCK_RETRY_MS, the fcntl lock let go between tries, until
 * MBOX_LOCK_WAIT_MS: an MTA holds them for one delivery.
 */
#define MBOX_LOCK_WAIT_MS	10000
#define MBOX_LOCK_RETRY_MS	100
/*
 * A dotlock held this long is touched (lockfile_touch): liblockfile
 * takes one older than 5 minutes for stale, postfix one of 500 s.
 */
#define MBOX_DOTLOCK_TOUCH_MS	60000
/* The session lock on a replaced mbox: reopened this many times. */
#define MBOX_REOPEN_TRIES	5
/* The octets read from an mbox at a time. */
#define MBOX_READ_CHUNK		(128 * 1024)

/* ---- the configuration check (pop3d-check) ---- */

/*
 * A certificate that expires within this many days is a warning: a
 * monthly look at the check, or a renewal that failed once (ACME clients
 * renew 30 days ahead), still leaves time to act.
 */
#define CHECK_CERT_WARN_DAYS	30

/*
 * The longest POP3D_ name pop3d-check quotes from the environment; a
 * longer one is still reported, cut.  No setting's name is half as long.
 */
#define CHECK_NAME_MAX		120

#endif
