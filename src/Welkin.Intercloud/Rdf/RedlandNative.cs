using System.Runtime.InteropServices;

namespace Welkin.Intercloud.Rdf;

// Redland (librdf 1.0.17 over Rasqal 0.9.33 and Raptor 2.0.15) as Debian ships it: only the versioned
// librdf.so.0 exists without the -dev package. Strings cross as NUL-terminated UTF-8 byte arrays so the
// caller decides the encoding, never the marshaller.
internal static class RedlandNative
{
    private const string Lib = "librdf.so.0";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int LogHandler(IntPtr userData, IntPtr message);

    [DllImport(Lib)] internal static extern IntPtr librdf_new_world();
    [DllImport(Lib)] internal static extern void librdf_world_open(IntPtr world);
    [DllImport(Lib)] internal static extern void librdf_free_world(IntPtr world);
    [DllImport(Lib)] internal static extern void librdf_world_set_logger(IntPtr world, IntPtr userData, LogHandler handler);
    [DllImport(Lib)] internal static extern int librdf_log_message_level(IntPtr message);
    [DllImport(Lib)] internal static extern IntPtr librdf_log_message_message(IntPtr message);

    [DllImport(Lib)] internal static extern IntPtr librdf_new_storage(IntPtr world, byte[] storageName, byte[] name, byte[] options);
    [DllImport(Lib)] internal static extern void librdf_free_storage(IntPtr storage);
    [DllImport(Lib)] internal static extern IntPtr librdf_new_model(IntPtr world, IntPtr storage, IntPtr options);
    [DllImport(Lib)] internal static extern void librdf_free_model(IntPtr model);
    [DllImport(Lib)] internal static extern int librdf_model_size(IntPtr model);

    [DllImport(Lib)] internal static extern IntPtr librdf_new_uri(IntPtr world, byte[] uri);
    [DllImport(Lib)] internal static extern void librdf_free_uri(IntPtr uri);
    [DllImport(Lib)] internal static extern IntPtr librdf_uri_as_string(IntPtr uri);

    [DllImport(Lib)] internal static extern IntPtr librdf_new_parser(IntPtr world, byte[] name, IntPtr mimeType, IntPtr typeUri);
    [DllImport(Lib)] internal static extern void librdf_free_parser(IntPtr parser);
    [DllImport(Lib)] internal static extern int librdf_parser_parse_string_into_model(IntPtr parser, byte[] text, IntPtr baseUri, IntPtr model);

    [DllImport(Lib)] internal static extern IntPtr librdf_new_query(IntPtr world, byte[] name, IntPtr uri, byte[] text, IntPtr baseUri);
    [DllImport(Lib)] internal static extern void librdf_free_query(IntPtr query);
    [DllImport(Lib)] internal static extern IntPtr librdf_model_query_execute(IntPtr model, IntPtr query);
    [DllImport(Lib)] internal static extern void librdf_free_query_results(IntPtr results);
    [DllImport(Lib)] internal static extern int librdf_query_results_is_bindings(IntPtr results);
    [DllImport(Lib)] internal static extern int librdf_query_results_is_boolean(IntPtr results);
    [DllImport(Lib)] internal static extern int librdf_query_results_get_boolean(IntPtr results);
    [DllImport(Lib)] internal static extern int librdf_query_results_finished(IntPtr results);
    [DllImport(Lib)] internal static extern int librdf_query_results_next(IntPtr results);
    [DllImport(Lib)] internal static extern int librdf_query_results_get_bindings_count(IntPtr results);
    [DllImport(Lib)] internal static extern IntPtr librdf_query_results_get_binding_name(IntPtr results, int offset);
    [DllImport(Lib)] internal static extern IntPtr librdf_query_results_get_binding_value(IntPtr results, int offset);

    [DllImport(Lib)] internal static extern void librdf_free_node(IntPtr node);
    [DllImport(Lib)] internal static extern int librdf_node_is_resource(IntPtr node);
    [DllImport(Lib)] internal static extern int librdf_node_is_literal(IntPtr node);
    [DllImport(Lib)] internal static extern int librdf_node_is_blank(IntPtr node);
    [DllImport(Lib)] internal static extern IntPtr librdf_node_get_uri(IntPtr node);
    [DllImport(Lib)] internal static extern IntPtr librdf_node_get_literal_value(IntPtr node);
    [DllImport(Lib)] internal static extern IntPtr librdf_node_get_literal_value_language(IntPtr node);
    [DllImport(Lib)] internal static extern IntPtr librdf_node_get_literal_value_datatype_uri(IntPtr node);
    [DllImport(Lib)] internal static extern IntPtr librdf_node_get_blank_identifier(IntPtr node);

    internal static byte[] Utf8(string text)
    {
        var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(text) + 1];
        System.Text.Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    internal static byte[] Utf8(ReadOnlySpan<byte> text)
    {
        var bytes = new byte[text.Length + 1];
        text.CopyTo(bytes);
        return bytes;
    }

    internal static string? String(IntPtr utf8) => utf8 == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(utf8);
}

/// <summary>A Redland object owned by Welkin: freed once, by its librdf_free_* function, under Redland's lock.</summary>
internal sealed class RedlandHandle : SafeHandle
{
    private static long _live;
    private readonly Action<IntPtr> _free;

    public RedlandHandle(IntPtr handle, Action<IntPtr> free) : base(IntPtr.Zero, ownsHandle: true)
    {
        _free = free;
        SetHandle(handle);
        if (handle != IntPtr.Zero)
        {
            Interlocked.Increment(ref _live);
        }
    }

    /// <summary>Redland objects allocated and not yet freed, process-wide.</summary>
    public static long Live => Interlocked.Read(ref _live);

    public override bool IsInvalid => handle == IntPtr.Zero;

    // A handle left to the finalizer is freed on its thread: the lock keeps that from racing a query.
    protected override bool ReleaseHandle()
    {
        Redland.Use((_, _) =>
        {
            _free(handle);
            return 0;
        });
        Interlocked.Decrement(ref _live);
        return true;
    }
}
