// Welkin portal: a machine's VNC console. noVNC comes from the server's noVNC package (served at /novnc/); this module
// starts it on an element with data-vnc-console="/machines/ID/console/socket", the portal's WebSocket to the machine's
// display. Loaded on every page; it does nothing elsewhere (and never loads noVNC there).
const screens = new Set();

async function start(element) {
    element.dataset.started = "yes";
    const status = document.getElementById("console-status");
    const cad = document.getElementById("console-cad");
    const say = (text) => { if (status) { status.textContent = text; } };
    let RFB;
    try {
        ({ default: RFB } = await import(element.dataset.novnc));
    } catch {
        say("The console could not load noVNC.");
        return;
    }
    const url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + element.dataset.vncConsole;
    say("Connecting…");
    const rfb = new RFB(element, url, { wsProtocols: ["binary"] });
    rfb.scaleViewport = true;
    rfb.focusOnClick = true;
    const canvas = element.querySelector("canvas");
    if (canvas) {
        // Reachable with Tab, and named for screen readers.
        canvas.tabIndex = 0;
        canvas.setAttribute("aria-label", element.dataset.label || "Screen");
    }
    rfb.addEventListener("connect", () => {
        say("Connected");
        if (cad) { cad.disabled = false; }
    });
    rfb.addEventListener("disconnect", (e) => {
        say(e.detail && e.detail.clean ? "Disconnected" : "Disconnected: the connection was refused or lost");
        if (cad) { cad.disabled = true; }
    });
    rfb.addEventListener("securityfailure", (e) => say("Refused by the machine's display" + (e.detail && e.detail.reason ? ": " + e.detail.reason : "")));
    rfb.addEventListener("credentialsrequired", () => say("The machine's display asks for a password, which the portal does not send."));
    if (cad) {
        cad.addEventListener("click", () => { rfb.sendCtrlAltDel(); });
    }
    // Every key goes to the machine while the screen has the focus, Tab too: Ctrl+Shift+Enter leaves it.
    element.addEventListener("keydown", (e) => {
        if (e.ctrlKey && e.shiftKey && e.key === "Enter") {
            e.stopPropagation();
            e.preventDefault();
            (cad || document.querySelector("main a")).focus();
        }
    }, true);
    screens.add({ element, rfb });
}

function scan() {
    document.querySelectorAll("[data-vnc-console]:not([data-started])").forEach(start);
    // A page left by Blazor's enhanced navigation: its console closes.
    for (const screen of screens) {
        if (!document.body.contains(screen.element)) {
            screens.delete(screen);
            screen.rfb.disconnect();
        }
    }
}

scan();
window.setInterval(scan, 400);
