using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.TestHost;
using Welkin.Contracts;
using Welkin.Core.Instances;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Compute;

/// <summary>The QEMU cloud of the console tests: one console per machine at most, so the cap is seen with two.</summary>
public sealed class QemuConsoleApp : QemuWelkinApp
{
    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var settings = base.Settings;
            settings["Console:MaxPerMachine"] = "1";
            return settings;
        }
    }
}

/// <summary>
/// The VNC console WebSocket against a real VNC server: a QEMU guest made with <c>display=vnc</c>. The RFB handshake
/// crosses the relay both ways (the server's banner, the client's version, security and init, the framebuffer's
/// size back); opening is audited; a second console is refused with the numbers; stopping the machine closes it.
/// </summary>
public sealed class VncConsoleTests(QemuConsoleApp app, TestGuest guest) : IClassFixture<QemuConsoleApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Console_OfAMachineWithADisplay_RelaysRfb_IsAuditedCappedAndClosesWhenTheMachineStops()
    {
        var admin = app.Admin();
        var imageId = await QemuFabricTests.RegisterGuestAsync(admin, guest);
        var template = QemuFabricTests.GuestTemplate(imageId, "vnc");
        template = template with
        {
            VirtualSystems = [template.VirtualSystems[0] with { Properties = [new PropertyDefinition("display", PropertyType.String, "vnc", "Graphical display")] }],
        };
        var tenant = await InstancesApi.TenantAsync(app, template: template);
        var (job, instance) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machine = (await tenant.Client.MachinesAsync(instance.Id)).ShouldHaveSingleItem();
        machine.Access!.Endpoints.ShouldContain(e => e.Protocol == "vnc");

        // Without an upgrade, the console that could open says it is a WebSocket.
        await (await tenant.Client.GetAsync($"/api/v1/machines/{machine.Id}/console/vnc", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "websocket-required");

        using (var socket = await VncSockets.ConnectAsync(app, tenant.SignUp.Token.Secret, machine.Id))
        {
            socket.SubProtocol.ShouldBe("binary");
            var wire = new VncSockets.Reader(socket);
            Encoding.ASCII.GetString(await wire.ReadAsync(12)).ShouldBe("RFB 003.008\n");
            await VncSockets.SendAsync(socket, Encoding.ASCII.GetBytes("RFB 003.008\n"));
            var count = (await wire.ReadAsync(1))[0];
            count.ShouldBeGreaterThan((byte)0);
            (await wire.ReadAsync(count)).ShouldContain((byte)1, "QEMU's display offers no authentication on loopback");
            await VncSockets.SendAsync(socket, [1]);
            (await wire.ReadAsync(4)).ShouldBe(new byte[4], "security result: OK");
            await VncSockets.SendAsync(socket, [1]); // ClientInit, shared
            var init = await wire.ReadAsync(4);
            var (width, height) = ((init[0] << 8) | init[1], (init[2] << 8) | init[3]);
            width.ShouldBeGreaterThan(0);
            height.ShouldBeGreaterThan(0);

            // One console per machine here: a second one is refused before any upgrade, naming the numbers.
            var refused = await Should.ThrowAsync<InvalidOperationException>(() => VncSockets.ConnectAsync(app, tenant.SignUp.Token.Secret, machine.Id));
            refused.Message.ShouldContain("409");

            var audit = await (await admin.GetAsync($"/api/v1/audit?accountId={tenant.AccountId}&limit=1000", Ct)).Content.ReadAsStringAsync(Ct);
            audit.ShouldContain(MachineDisplays.Action);

            // Stopping the machine ends its display: the socket is closed by the server.
            (await tenant.Client.ActAsync(machine.Id, "stop", new MachineActionRequest(Force: true))).State.ShouldBe(JobState.Succeeded);
            var closed = await wire.UntilClosedAsync();
            closed.ShouldBe(WebSocketCloseStatus.EndpointUnavailable);
        }

        // A stopped machine has no console to open.
        var stopped = await Should.ThrowAsync<InvalidOperationException>(() => VncSockets.ConnectAsync(app, tenant.SignUp.Token.Secret, machine.Id));
        stopped.Message.ShouldContain("409");
    }
}

/// <summary>The refusals of the console route, on the simulated fabric (whose machines have no display).</summary>
public sealed class VncConsoleRefusalTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Console_IsRefused_WithoutToken_ForAnotherAccount_WithoutUpgrade_AndOnASimulatedMachine()
    {
        var owner = await InstancesApi.TenantAsync(app);
        var (_, instance) = await owner.Client.ProvisionedAsync(InstancesApi.Request(owner));
        var machineId = instance.Machines[0];
        var other = await InstancesApi.TenantAsync(app);
        var path = $"/api/v1/machines/{machineId}/console/vnc";
        var absent = $"/api/v1/machines/{Welkin.Core.Common.Ids.New(Welkin.Core.Common.Ids.Machine, TimeProvider.System)}/console/vnc";

        (await app.Anonymous().GetAsync(path, Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await Should.ThrowAsync<InvalidOperationException>(() => VncSockets.ConnectAsync(app, null, machineId))).Message.ShouldContain("401");

        // Another account's machine answers as one that does not exist, upgrade or not.
        var foreign = await (await other.Client.GetAsync(path, Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        var missing = await (await other.Client.GetAsync(absent, Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        foreign.GetProperty("detail").GetString()!.Replace(machineId, "ID", StringComparison.Ordinal)
            .ShouldBe(missing.GetProperty("detail").GetString()!.Replace(absent.Split('/')[4], "ID", StringComparison.Ordinal));
        (await Should.ThrowAsync<InvalidOperationException>(() => VncSockets.ConnectAsync(app, other.SignUp.Token.Secret, machineId))).Message.ShouldContain("404");

        // The owner, on the simulated fabric (no displays): 409 no-display, upgrade or not.
        var noDisplay = await (await owner.Client.GetAsync(path, Ct)).ProblemAsync(HttpStatusCode.Conflict, "no-display");
        noDisplay.GetProperty("detail").GetString()!.ShouldContain("display=vnc");
        (await Should.ThrowAsync<InvalidOperationException>(() => VncSockets.ConnectAsync(app, owner.SignUp.Token.Secret, machineId))).Message.ShouldContain("409");
    }
}

/// <summary>WebSockets to the console route through the test server, and reading RFB from them.</summary>
internal static class VncSockets
{
    public static async Task<WebSocket> ConnectAsync(WelkinApp app, string? token, string machineId)
    {
        var client = app.Server.CreateWebSocketClient();
        client.SubProtocols.Add("binary");
        if (token is not null)
        {
            client.ConfigureRequest = r => r.Headers.Authorization = "Bearer " + token;
        }
        return await client.ConnectAsync(new Uri($"ws://localhost/api/v1/machines/{machineId}/console/vnc"), TestContext.Current.CancellationToken);
    }

    public static Task SendAsync(WebSocket socket, byte[] bytes) =>
        socket.SendAsync(bytes, WebSocketMessageType.Binary, endOfMessage: true, TestContext.Current.CancellationToken);

    /// <summary>Reads exact byte counts across however the relay framed them.</summary>
    public sealed class Reader(WebSocket socket)
    {
        private readonly Queue<byte> _pending = new();

        public async Task<byte[]> ReadAsync(int count)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var buffer = new byte[64 * 1024];
            while (_pending.Count < count)
            {
                var received = await socket.ReceiveAsync(buffer, timeout.Token);
                received.MessageType.ShouldBe(WebSocketMessageType.Binary, $"while waiting for {count} bytes: {socket.CloseStatus} {socket.CloseStatusDescription}");
                foreach (var b in buffer.AsSpan(0, received.Count))
                {
                    _pending.Enqueue(b);
                }
            }
            return [.. Enumerable.Range(0, count).Select(_ => _pending.Dequeue())];
        }

        /// <summary>Reads (and drops) frames until the server closes; answers its close status.</summary>
        public async Task<WebSocketCloseStatus?> UntilClosedAsync()
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, timeout.Token);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return received.CloseStatus;
                }
            }
        }
    }
}
