namespace Welkin.Intercloud.Rdf;

// One librdf world per process, opened on first use and kept for the process's life. Redland and Rasqal
// keep mutable state on the world (the logger, parser and query factories, hash caches) without locks
// of their own, and their documentation promises no thread safety, so every call into the library runs
// under Gate: queries over different graphs are serialized too. Log messages are captured per call,
// under the same lock, so a syntax error reaches the caller as a typed error with Redland's text.
internal static class Redland
{
    private const int LevelError = 4;

    private static readonly Lock Gate = new();
    private static readonly RedlandNative.LogHandler Logger = OnLog;
    private static readonly List<string> Errors = [];
    private static IntPtr _world;
    private static int _depth;

    /// <summary>Runs <paramref name="action"/> with exclusive use of the world; Redland's error messages logged meanwhile are passed to it.</summary>
    public static T Use<T>(Func<IntPtr, IReadOnlyList<string>, T> action)
    {
        lock (Gate)
        {
            if (_world == IntPtr.Zero)
            {
                _world = Open();
            }
            // Freeing a handle re-enters; only the outermost call owns the captured messages.
            if (_depth++ == 0)
            {
                Errors.Clear();
            }
            try
            {
                return action(_world, Errors);
            }
            finally
            {
                if (--_depth == 0)
                {
                    Errors.Clear();
                }
            }
        }
    }

    private static IntPtr Open()
    {
        var world = RedlandNative.librdf_new_world();
        if (world == IntPtr.Zero)
        {
            throw new InvalidOperationException("librdf_new_world failed");
        }
        RedlandNative.librdf_world_set_logger(world, IntPtr.Zero, Logger);
        RedlandNative.librdf_world_open(world);
        return world;
    }

    // Called by Redland on the calling thread, which holds Gate. Returning non-zero says it was handled.
    private static int OnLog(IntPtr userData, IntPtr message)
    {
        if (RedlandNative.librdf_log_message_level(message) >= LevelError && Errors.Count < 20)
        {
            var text = RedlandNative.String(RedlandNative.librdf_log_message_message(message)) ?? "unknown error";
            Errors.Add(text.Length > 500 ? text[..500] : text);
        }
        return 1;
    }
}
