using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// The key ring of ASP.NET Core Data Protection (the portal's antiforgery tokens and its encrypted sessions) kept
/// with the cloud: one XML file per key in a directory of the data directory (mode 0700, files 0600), not in the
/// database, so that a copy of the database alone never holds the key to the sessions it stores. Replicas
/// share it by pointing <c>Portal:KeyDirectory</c> at the same directory and by the one application name.
/// </summary>
public sealed class PortalKeyRing(string directory) : IXmlRepository
{
    /// <summary>The key ring's directory in the data directory unless <c>Portal:KeyDirectory</c> names another.</summary>
    public const string DefaultDirectory = "portal-keys";

    /// <summary>Data Protection's application name: the same on every replica of a cloud, so their protected payloads agree.</summary>
    public const string ApplicationName = "Welkin";

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public string Directory { get; } = directory;

    /// <summary>Data Protection with the key ring in <paramref name="directory"/>.</summary>
    public static void Add(IServiceCollection services, string directory) =>
        services.AddDataProtection()
            .SetApplicationName(ApplicationName)
            .AddKeyManagementOptions(o => o.XmlRepository = new PortalKeyRing(directory));

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }
        return System.IO.Directory.EnumerateFiles(Directory, "*.xml")
            .Order(StringComparer.Ordinal)
            .Select(file => XElement.Load(file))
            .ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        System.IO.Directory.CreateDirectory(Directory, OwnerOnlyDirectory);
        var name = IsSafeName(friendlyName) ? friendlyName : Guid.NewGuid().ToString("n");
        var path = Path.Combine(Directory, name + ".xml");
        var temp = Path.Combine(Directory, name + ".tmp");
        File.Delete(temp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }
        using (var stream = new FileStream(temp, options))
        {
            element.Save(stream);
            stream.Flush(flushToDisk: true);
        }
        // A new key appears whole or not at all: a replica reading the directory never parses half a file.
        File.Move(temp, path, overwrite: false);
    }

    private static bool IsSafeName(string name) =>
        name is { Length: > 0 and <= 64 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
