namespace Welkin.Testing;

/// <summary>The checkout the tests were built from: docs, scripts and project files that tests read.</summary>
public static class Repository
{
    private static readonly Lazy<string> RootDirectory = new(FindRoot);

    /// <summary>The directory holding Welkin.slnx, found above the test binaries.</summary>
    public static string Root => RootDirectory.Value;

    /// <summary>A path below <see cref="Root"/>, e.g. <c>Repository.Path("docs", "security.md")</c>.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "Welkin.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Welkin.slnx not found above " + AppContext.BaseDirectory);
    }
}
