"""An independent XMPP party for Welkin's interoperability tests, built on slixmpp.

Usage: slixmpp_peer.py HOST PORT JID PASSWORD CA_FILE TARGET_FULL_JID

Logs in (verifying the server certificate against CA_FILE), sends an XEP-0199 ping and XEP-0030
disco#info and disco#items queries to TARGET_FULL_JID, subscribes to its presence and waits until
its XEP-0115 plugin has verified the capabilities that presence carries, and prints one JSON line
with its own full JID and the results. It then stays online, answering pings, until its standard input closes.
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
        self.register_plugin("xep_0115")
        self.register_plugin("xep_0199", {"keepalive": False})
        self.presence_caps = None
        self.add_event_handler("presence_available", self.on_available)
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("failed_auth", lambda _: self.fail("authentication failed"))

    def fail(self, reason):
        if not self.finished.done():
            self.finished.set_exception(RuntimeError(reason))

    def on_available(self, presence):
        if presence["from"].full == self.target:
            self.presence_caps = {"node": presence["caps"]["node"], "ver": presence["caps"]["ver"], "hash": presence["caps"]["hash"]}

    async def verified_caps(self):
        # xep_0115 fetches node#ver and assigns the ver to the sender only once the hash checks out.
        for _ in range(TIMEOUT * 10):
            ver = await self["xep_0115"].get_verstring(self.target)
            if ver:
                caps = await self["xep_0115"].get_caps(jid=self.target)
                return {"ver": ver, "features": sorted(caps["features"]) if caps else []}
            await asyncio.sleep(0.1)
        return {"error": "no verified capabilities"}

    async def start(self, _):
        self.send_presence()
        self.send_presence_subscription(pto=self.target.split("/")[0])
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
        try:
            items = await self["xep_0030"].get_items(jid=self.target, timeout=TIMEOUT)
            report["items"] = len(items["disco_items"]["items"])
        except Exception as error:
            report["items_error"] = repr(error)
        report["caps"] = await self.verified_caps()
        report["presence_caps"] = self.presence_caps
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
