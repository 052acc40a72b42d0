using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Portal.Tests.Compute;

/// <summary>
/// A portal cloud on the QEMU fabric (one host), for the console page: it runs ONE real machine with a display,
/// made once for the class (<see cref="MachineAsync"/>), and ends every QEMU it started when it stops.
/// </summary>
public sealed class QemuPortalApp : PortalApp
{
    private readonly TestGuest _guest = new();
    private Task<(Tenant Owner, MachineView Machine)>? _machine;

    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var settings = base.Settings;
            settings["Welkin:Fabric"] = "qemu";
            settings["Fabric:Hosts:0:Name"] = "qemu-a";
            settings["Fabric:Hosts:0:Region"] = "local";
            settings["Fabric:Hosts:0:Jurisdiction"] = "US";
            settings["Fabric:Hosts:0:Cores"] = "8";
            settings["Fabric:Hosts:0:MemoryMiB"] = "8192";
            settings["Fabric:Hosts:0:DiskGiB"] = "200";
            settings["Fabric:StopMachinesOnShutdown"] = "true";
            return settings;
        }
    }

    public override async ValueTask InitializeAsync()
    {
        await _guest.InitializeAsync();
        await base.InitializeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await TestGuest.KillProcessesMentioningAsync(DataDir);
    }

    /// <summary>The class's one machine: the test guest booted with <c>display=vnc</c>, running, and the account that owns it.</summary>
    public Task<(Tenant Owner, MachineView Machine)> MachineAsync()
    {
        lock (_guest)
        {
            return _machine ??= ProvisionAsync();
        }
    }

    private async Task<(Tenant Owner, MachineView Machine)> ProvisionAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        var admin = Admin();
        var imageId = await GuestImages.RegisterAsync(admin, _guest);
        var prefix = CatalogApi.UniquePrefix("vnc");
        var template = CatalogApi.Template(prefix + "template", vcpus: 1, memoryMiB: 256);
        var system = template.VirtualSystems[0];
        template = template with
        {
            VirtualSystems =
            [
                system with
                {
                    ImageId = imageId,
                    Hardware = system.Hardware with { DiskGiB = new Choice<long>([1], 1) },
                    Properties = [new PropertyDefinition("display", PropertyType.String, "vnc", "Graphical display")],
                },
            ],
        };
        var published = await admin.PublishedTemplateAsync(template);
        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(prefix + "offering", published.Id))).Id);
        var owner = await ComputeData.TenantAsync(this, "vnc");
        var contract = await owner.ActiveAsync(offering, 1);
        var accepted = await (await owner.Client.PostAsJsonAsync("/api/v1/instances",
            new ProvisionRequest(contract.Id, "desktop", VirtualSystems: [new VirtualSystemChoice(system.Name, 1)]), WelkinJson.Client, ct))
            .ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        var job = await owner.WaitAsync(accepted.Job.Id);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machine = (await owner.MachinesAsync(accepted.Resource.Id)).ShouldHaveSingleItem();
        machine.Access!.Endpoints.ShouldContain(e => e.Protocol == "vnc");
        return (owner, machine);
    }
}

/// <summary>
/// The console page against a real QEMU guest's display: noVNC in Chromium connects through the portal's socket and
/// the API's console WebSocket, shows the guest's screen, sends keys and Ctrl+Alt+Del; the socket refuses another
/// site's pages and another tenant, whose page is the 404 of a machine that does not exist.
/// </summary>
public sealed class MachineConsoleTests(QemuPortalApp app, Browser browser) : IClassFixture<QemuPortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string CountColours =
        """
        () => {
            const c = document.querySelector('#console-screen canvas');
            if (!c || c.width < 2 || c.height < 2) { return 0; }
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const seen = new Set();
            for (let i = 0; i < d.length && seen.size < 3; i += 4 * 7) { seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]); }
            return seen.size;
        }
        """;

    private static async Task ConnectedAsync(IPage page)
    {
        var connected = page.Locator("#console-status").Filter(new() { HasTextRegex = new System.Text.RegularExpressions.Regex("^Connected$") });
        try
        {
            await connected.WaitForAsync(new() { Timeout = 30_000 });
        }
        catch (TimeoutException e)
        {
            throw new ShouldAssertException($"The console at {page.Url} did not connect: {await page.Locator("main").InnerTextAsync()}", e);
        }
    }

    [Fact]
    public async Task ConsolePage_ShowsTheGuestsScreen_TakesKeysAndCtrlAltDel_IsAudited_AndAccessible()
    {
        var (owner, machine) = await app.MachineAsync();
        var (context, page) = await browser.SignedInAsync(app, owner);
        await using var _ = context;
        var errors = page.ConsoleErrors();

        await page.GotoAsync($"/machines/{machine.Id}");
        await page.GetByRole(AriaRole.Link, new() { Name = "Open the console" }).ClickAsync();
        await page.WaitForURLAsync($"**/machines/{machine.Id}/console");
        await ConnectedAsync(page);
        await page.WaitForFunctionAsync("() => (" + CountColours + ")() >= 2", null, new() { Timeout = 60_000, PollingInterval = 250 });
        ((int)await page.EvaluateAsync<int>(CountColours)).ShouldBeGreaterThanOrEqualTo(2, "the canvas shows the guest's screen, not one colour");

        await page.Locator("#console-screen canvas").FocusAsync();
        await page.Keyboard.PressAsync("a");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send Ctrl+Alt+Del" }).ClickAsync();
        await ConnectedAsync(page);

        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("console");
        errors.ShouldBeEmpty();

        var audit = await (await owner.Client.GetAsync($"/api/v1/audit?accountId={owner.AccountId}&limit=1000", Ct)).Content.ReadAsStringAsync(Ct);
        audit.ShouldContain("machine.console-open");
        audit.ShouldContain(machine.Id);
    }

    [Fact]
    public async Task ConsolePage_WithTheKeyboardOnly_OpensTheConsoleTypesAndSendsCtrlAltDel()
    {
        var (owner, machine) = await app.MachineAsync();
        var (context, page) = await browser.SignedInAsync(app, owner);
        await using var _ = context;
        await page.GotoAsync($"/machines/{machine.Id}");

        await TabToAsync(page, "open-console");
        await page.Keyboard.PressAsync("Enter");
        // The console page's status says when it is there and connected (it outlives the navigation it waits for).
        await ConnectedAsync(page);

        page.Url.ShouldEndWith($"/machines/{machine.Id}/console");
        await TabToAsync(page, null, "CANVAS");
        await page.Keyboard.TypeAsync("ls");
        await page.Keyboard.PressAsync("Control+Shift+Enter");
        (await page.EvaluateAsync<string>("() => document.activeElement.id")).ShouldBe("console-cad", "Ctrl+Shift+Enter leaves the screen for the button");
        await page.Keyboard.PressAsync("Enter");
        await ConnectedAsync(page);
    }

    [Fact]
    public async Task AnotherTenant_GetsTheConsolePageAndSocketOfAMachineThatDoesNotExist()
    {
        var (owner, machine) = await app.MachineAsync();
        var other = await ComputeData.TenantAsync(app, "spy");
        var (context, page) = await browser.SignedInAsync(app, other);
        await using var _ = context;

        var stolen = await page.GotoAsync($"/machines/{machine.Id}/console");
        stolen!.Status.ShouldBe(404);
        var html = await stolen.TextAsync();
        var missing = await page.GotoAsync($"/machines/{ComputeData.Absent(machine.Id)}/console");
        missing!.Status.ShouldBe(404);
        html.ShouldNotContain(machine.Name);
        html.ShouldNotContain(owner.Name);

        var cookie = await CookieAsync(context);
        (await RefusalAsync(cookie, app.Address.GetLeftPart(UriPartial.Authority), machine.Id)).ShouldBe(HttpStatusCode.NotFound);
        (await RefusalAsync(cookie, app.Address.GetLeftPart(UriPartial.Authority), ComputeData.Absent(machine.Id))).ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ConsoleSocket_RefusesAForeignOrigin_AndRelaysRfbToThisSite()
    {
        var (owner, machine) = await app.MachineAsync();
        var (context, _) = await browser.SignedInAsync(app, owner);
        await using var __ = context;
        var cookie = await CookieAsync(context);

        (await RefusalAsync(cookie, "http://evil.example", machine.Id)).ShouldBe(HttpStatusCode.Forbidden);
        (await RefusalAsync(cookie, null, machine.Id)).ShouldBe(HttpStatusCode.Forbidden);

        using var socket = Socket(cookie, app.Address.GetLeftPart(UriPartial.Authority));
        await socket.ConnectAsync(SocketUri(machine.Id), Ct);
        socket.SubProtocol.ShouldBe("binary");
        var buffer = new byte[12];
        var read = 0;
        while (read < 12)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(read), Ct);
            received.MessageType.ShouldBe(WebSocketMessageType.Binary);
            read += received.Count;
        }
        Encoding.ASCII.GetString(buffer).ShouldBe("RFB 003.008\n");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", Ct);
    }

    /// <summary>Presses Tab until the focus is on the element with <paramref name="id"/> (or of <paramref name="tag"/>).</summary>
    private static async Task TabToAsync(IPage page, string? id, string? tag = null)
    {
        for (var i = 0; i < 150; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            var focused = await page.EvaluateAsync<string[]>("() => [document.activeElement.id || '', document.activeElement.tagName]");
            if ((id is not null && focused[0] == id) || (tag is not null && focused[1] == tag))
            {
                return;
            }
        }
        throw new ShouldAssertException($"Tab never reached {id ?? tag} on {page.Url}");
    }

    private static async Task<string> CookieAsync(IBrowserContext context)
    {
        var cookies = await context.CookiesAsync();
        var session = cookies.Single(c => c.Name.EndsWith("welkin-portal", StringComparison.Ordinal));
        return $"{session.Name}={session.Value}";
    }

    private Uri SocketUri(string machineId) => new($"ws://{app.Address.Authority}/machines/{machineId}/console/socket");

    private static ClientWebSocket Socket(string cookie, string? origin)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.AddSubProtocol("binary");
        socket.Options.SetRequestHeader("Cookie", cookie);
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }
        return socket;
    }

    /// <summary>Opens the portal's console socket and answers the status it was refused with.</summary>
    private async Task<HttpStatusCode> RefusalAsync(string cookie, string? origin, string machineId)
    {
        using var socket = Socket(cookie, origin);
        await Should.ThrowAsync<WebSocketException>(() => socket.ConnectAsync(SocketUri(machineId), Ct));
        return socket.HttpStatusCode;
    }
}

/// <summary>A portal whose server has no noVNC: the console page says so.</summary>
public sealed class NoVncPortalApp : PortalApp
{
    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var settings = base.Settings;
            foreach (var name in new[] { "Create", "Start", "Stop", "Destroy" })
            {
                settings["Fabric:Timing:" + name] = "00:00:00";
            }
            settings["Portal:NoVncPath"] = Path.Combine(Path.GetTempPath(), "welkin-no-novnc-" + Guid.NewGuid().ToString("n"));
            return settings;
        }
    }
}

public sealed class MachineConsoleWithoutNoVncTests(NoVncPortalApp app, Browser browser) : IClassFixture<NoVncPortalApp>
{
    [Fact]
    public async Task ConsolePage_WithoutNoVnc_SaysTheConsoleIsNotAvailableAndWhy()
    {
        var tenant = await ComputeData.TenantAsync(app, "novnc");
        var contract = await tenant.ActiveAsync(await ComputeData.OfferingAsync(app), 1);
        var instance = await tenant.ProvisionedAsync(contract);
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        var response = await page.GotoAsync($"/machines/{instance.Machines[0]}/console");
        response!.Status.ShouldBe(200);
        var status = await page.GetByRole(AriaRole.Status).First.InnerTextAsync();
        status.ShouldContain("not available on this server");
        status.ShouldContain("Portal:NoVncPath");
        (await page.Locator("script[src*='novnc']").CountAsync()).ShouldBe(0);
        await page.ShouldBeAccessibleAsync();
    }
}
