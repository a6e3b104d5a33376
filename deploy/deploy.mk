# deploy/: the deployment kit (issue 7).  Included by the Makefile, whose
# install and uninstall targets call install-deploy and uninstall-deploy.
#
# The systemd units go where systemd looks for them (SYSTEMDDIR, for
# PREFIX=/usr/local: /usr/local/lib/systemd/system), the tmpfiles.d
# snippet likewise (TMPFILESDIR); the whole kit, units included, to
# KITDIR as examples to copy (inetd, xinetd, daemontools/runit, the env
# file).  /usr/local/sbin in the files becomes SBINDIR, and the kit's own
# path KITDIR.  Nothing is enabled or started.
SYSTEMDDIR	?= $(PREFIX)/lib/systemd/system
TMPFILESDIR	?= $(PREFIX)/lib/tmpfiles.d
KITDIR		?= $(PREFIX)/share/pop3d/deploy
# The pre-login chroot (pop3d.8: POP3D_CHROOT), which a service under
# ProtectSystem=strict cannot make itself.
CHROOTDIR	?= /var/empty

DEPLOY_UNITS	= pop3d.socket pop3d@.service pop3s.socket pop3s@.service
DEPLOY_KIT	= README inetd.conf xinetd.d/pop3d pop3d.env \
		  tmpfiles.d/pop3d.conf haproxy.cfg \
		  $(DEPLOY_UNITS:%=systemd/%)
DEPLOY_RUN	= service/pop3d/run service/pop3d/log/run \
		  service/pop3s/run service/pop3s/log/run sysuser.sh
DEPLOY_SED	= sed -e 's|/usr/local/share/pop3d/deploy|$(KITDIR)|g' \
		      -e 's|/usr/local/sbin|$(SBINDIR)|g'

.PHONY: install-deploy uninstall-deploy

install-deploy:
	install -d $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(addprefix $(DESTDIR)$(KITDIR)/,systemd xinetd.d tmpfiles.d \
	    service/pop3d/log service/pop3s/log)
	for f in $(DEPLOY_UNITS); do \
	    $(DEPLOY_SED) deploy/systemd/$$f >$(DESTDIR)$(SYSTEMDDIR)/$$f && \
	    chmod 644 $(DESTDIR)$(SYSTEMDDIR)/$$f || exit 1; \
	done
	install -m 644 deploy/tmpfiles.d/pop3d.conf $(DESTDIR)$(TMPFILESDIR)
	for f in $(DEPLOY_KIT); do \
	    $(DEPLOY_SED) deploy/$$f >$(DESTDIR)$(KITDIR)/$$f && \
	    chmod 644 $(DESTDIR)$(KITDIR)/$$f || exit 1; \
	done
	for f in $(DEPLOY_RUN); do \
	    $(DEPLOY_SED) deploy/$$f >$(DESTDIR)$(KITDIR)/$$f && \
	    chmod 755 $(DESTDIR)$(KITDIR)/$$f || exit 1; \
	done
	install -d -m 555 $(DESTDIR)$(CHROOTDIR)
	if [ "$$(id -u)" -eq 0 ]; then \
	    chown root:root $(DESTDIR)$(CHROOTDIR) || exit 1; \
	fi

# Removes what install-deploy installed, and the kit's folders; leaves
# CHROOTDIR, which other programs may share.
uninstall-deploy:
	rm -f $(DEPLOY_UNITS:%=$(DESTDIR)$(SYSTEMDDIR)/%) \
	    $(DESTDIR)$(TMPFILESDIR)/pop3d.conf \
	    $(DEPLOY_KIT:%=$(DESTDIR)$(KITDIR)/%) \
	    $(DEPLOY_RUN:%=$(DESTDIR)$(KITDIR)/%)
	-rmdir $(addprefix $(DESTDIR)$(KITDIR)/,service/pop3d/log \
	    service/pop3s/log service/pop3d service/pop3s service systemd \
	    xinetd.d tmpfiles.d) $(DESTDIR)$(KITDIR) \
	    $(DESTDIR)$(dir $(KITDIR)) 2>/dev/null
