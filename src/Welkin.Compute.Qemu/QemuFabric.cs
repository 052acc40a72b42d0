using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// What the parts of the QEMU driver share: the options and directories, the machine table, the
/// hosts, the event channel, and the few helpers every part needs. Machines' fields are guarded
/// by <see cref="Gate"/> (the table's lock); a machine's operations by the table.
/// </summary>
internal sealed class QemuFabric
{
    public QemuFabric(QemuFabricOptions options, IImageResolver? images, TimeProvider clock, ILogger logger, CancellationToken stopping)
    {
        Options = options;
        Images = images;
        Clock = clock;
        Logger = logger;
        Stopping = stopping;
        Root = Path.GetFullPath(options.Root);
        Disks = new QemuImages(Root, options.ImageTool);
        Hosts = new QemuHosts(options.Hosts.Count > 0 ? [.. options.Hosts] : [DefaultHost()], Root, options);
        Machines = new MachineTable<QemuMachine>(
            m => m.Record.Spec, Describe, Gate, m => Hosts.IsFailed(m.Record.Host) ? DriverErrors.HostUnavailable(m.Record.Host) : null, stopping);
        // Unix socket paths hold at most 107 bytes, so QMP sockets live in a short directory of their own.
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Root)))[..12];
        SocketDirectory = Path.Combine(Path.GetTempPath(), "welkin-qmp-" + hash);
        Directory.CreateDirectory(MachinesDirectory);
        Directory.CreateDirectory(SocketDirectory);
    }

    public QemuFabricOptions Options { get; }

    public IImageResolver? Images { get; }

    public TimeProvider Clock { get; }

    public ILogger Logger { get; }

    /// <summary>Cancelled when the driver is disposed.</summary>
    public CancellationToken Stopping { get; }

    public string Root { get; }

    public string MachinesDirectory => Path.Combine(Root, "machines");

    public string SocketDirectory { get; }

    public QemuImages Disks { get; }

    public QemuHosts Hosts { get; }

    public Lock Gate { get; } = new();

    public MachineTable<QemuMachine> Machines { get; }

    public Channel<DriverEvent> Events { get; } = Channel.CreateUnbounded<DriverEvent>();

    public DateTimeOffset Now => Clock.GetUtcNow();

    public string QmpSocket(string machineId, string slot) => Path.Combine(SocketDirectory, $"{machineId}-{slot}.qmp");

    public DriverMachine Describe(QemuMachine machine)
    {
        lock (Gate)
        {
            return machine.ToDriver(Options.ManagementAddress);
        }
    }

    /// <summary>Puts the machine in <paramref name="state"/> (clearing its error unless that is <see cref="DriverMachineState.Error"/>) and records it.</summary>
    public DriverMachine Enter(QemuMachine machine, DriverMachineState state)
    {
        lock (Gate)
        {
            machine.State = state;
            if (state != DriverMachineState.Error)
            {
                machine.Record.Error = null;
            }
            TrySave(machine);
            return machine.ToDriver(Options.ManagementAddress);
        }
    }

    /// <summary>Writes the machine's record when its directory still exists; a failed write is logged, not thrown.</summary>
    public void TrySave(QemuMachine machine)
    {
        try
        {
            if (Directory.Exists(machine.Directory))
            {
                machine.Save();
            }
        }
        catch (IOException exception)
        {
            Logger.LogError(exception, "Machine {Machine}: its record could not be written", machine.Id);
        }
    }

    public static void DeleteDirectory(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // A file still open by a process that is going away; a later sweep removes it.
        }
    }

    private static FabricHost DefaultHost()
    {
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024);
        return new FabricHost("qemu-local", "local", "local", Environment.ProcessorCount, memory * 3 / 4, 1_000);
    }
}
