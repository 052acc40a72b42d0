"""An independent XMPP party for Welkin's interoperability tests, built on slixmpp.

Usage: slixmpp_peer.py HOST PORT JID PASSWORD CA_FILE TARGET_FULL_JID

Logs in (verifying the server certificate against CA_FILE), sends an XEP-0199 ping and an
XEP-0030 disco#info query to TARGET_FULL_JID and prints one JSON line with its own full JID and
the results. It then stays online, answering pings, until its standard input closes.
"""
import asyncio
import json
import sys

import slixmpp

TIMEOUT = 20


class Peer(slixmpp.ClientXMPP):
    def __init__(self, jid, password, target):
        super().__init__(jid, password)
        self.target = target
        self.finished = asyncio.get_event_loop().create_future()
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199", {"keepalive": False})
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("failed_auth", lambda _: self.fail("authentication failed"))

    def fail(self, reason):
        if not self.finished.done():
            self.finished.set_exception(RuntimeError(reason))

    async def start(self, _):
        self.send_presence()
        report = {"jid": str(self.boundjid)}
        try:
            await self["xep_0199"].ping(self.target, timeout=TIMEOUT)
            report["ping"] = "result"
        except Exception as error:  # the report carries any failure to the test
            report["ping"] = "error: " + repr(error)
        try:
            info = await self["xep_0030"].get_info(jid=self.target, timeout=TIMEOUT)
            report["features"] = sorted(info["disco_info"]["features"])
        except Exception as error:
            report["features"] = []
            report["disco_error"] = repr(error)
        print(json.dumps(report), flush=True)
        await asyncio.get_event_loop().run_in_executor(None, sys.stdin.read)
        self.disconnect()
        if not self.finished.done():
            self.finished.set_result(None)


async def main():
    host, port, jid, password, ca_file, target = sys.argv[1:7]
    peer = Peer(jid, password, target)
    peer.ca_certs = ca_file
    peer.connect((host, int(port)))
    # A wrong CA makes slixmpp retry silently: bound the login.
    await asyncio.wait_for(asyncio.shield(peer.finished), timeout=TIMEOUT * 3)


if __name__ == "__main__":
    try:
        asyncio.get_event_loop().run_until_complete(main())
    except Exception as error:
        print(json.dumps({"error": repr(error)}), flush=True)
        sys.exit(1)
