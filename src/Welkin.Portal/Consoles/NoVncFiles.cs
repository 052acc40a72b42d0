using Microsoft.Extensions.Options;

namespace Welkin.Portal.Consoles;

/// <summary>noVNC as this server has it (<see cref="PortalOptions.NoVncPath"/>), served at <see cref="RequestPath"/>.</summary>
public sealed class NoVncFiles(IOptions<PortalOptions> options)
{
    public const string RequestPath = "/novnc";

    /// <summary>The module the console page imports.</summary>
    public const string Module = RequestPath + "/core/rfb.js";

    public string Directory { get; } = Path.GetFullPath(string.IsNullOrWhiteSpace(options.Value.NoVncPath) ? "/usr/share/novnc" : options.Value.NoVncPath);

    public bool Available => File.Exists(System.IO.Path.Combine(Directory, "core", "rfb.js"));

    /// <summary>Why the console is not available, in words for the page (the operator's setting is named, not the path).</summary>
    public string Reason =>
        "noVNC, the browser's VNC client, is not installed where the server looks for it (the setting Portal:NoVncPath; the Debian package novnc).";
}
