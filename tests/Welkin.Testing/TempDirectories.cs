namespace Welkin.Testing;

public static class TempDirectories
{
    /// <summary>A new, not yet created path in the temporary directory, e.g. a data directory a server creates itself.</summary>
    public static string NewPath(string prefix) => Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("n"));

    /// <summary>Deletes a test's directory; one that a process being torn down still holds stays behind rather than failing the test.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
