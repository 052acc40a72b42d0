using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Configuration;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>Configuration Manager: volumes from storage contracts, tenant networks, machine and instance properties.</summary>
public static class ConfigurationEndpoints
{
    public static IEndpointRouteBuilder MapConfiguration(this IEndpointRouteBuilder app)
    {
        var volumes = app.MapInterface("/api/v1/volumes", "Configuration Manager");
        volumes.MapPost("/", CreateVolume).WithName("volume.create").WithSummary("Create a volume").WithIdempotency();
        volumes.MapGet("/", ListVolumes).WithName("volume.list").WithSummary("List volumes");
        volumes.MapGet("/{id}", GetVolume).WithName("volume.get").WithSummary("Get one volume");
        volumes.MapDelete("/{id}", DeleteVolume).WithName("volume.delete").WithSummary("Delete a detached volume");
        volumes.MapPost("/{id}/attach", AttachVolume).WithName("volume.attach").WithSummary("Attach a volume to a machine (asynchronous)");
        volumes.MapPost("/{id}/detach", DetachVolume).WithName("volume.detach").WithSummary("Detach a volume from its machine (asynchronous)");

        var networks = app.MapInterface("/api/v1/networks", "Configuration Manager");
        networks.MapPost("/", CreateNetwork).WithName("network.create").WithSummary("Create a tenant network").WithIdempotency();
        networks.MapGet("/", ListNetworks).WithName("network.list").WithSummary("List tenant networks with their attachments");
        networks.MapGet("/{id}", GetNetwork).WithName("network.get").WithSummary("Get one tenant network");
        networks.MapDelete("/{id}", DeleteNetwork).WithName("network.delete").WithSummary("Delete a tenant network that has no attachments");
        networks.MapPost("/{id}/connect", Connect).WithName("network.connect").WithSummary("Connect a machine to a tenant network (asynchronous)");
        networks.MapPost("/{id}/disconnect", Disconnect).WithName("network.disconnect").WithSummary("Disconnect a machine from a tenant network (asynchronous)");

        var configuration = app.MapInterface("/api/v1", "Configuration Manager");
        configuration.MapPut("/machines/{id}/configuration", ConfigureMachine).WithName("machine.configure").WithSummary("Set a machine's properties (asynchronous)");
        configuration.MapPut("/instances/{id}/configuration", ConfigureInstance).WithName("instance.configure").WithSummary("Set the properties of an instance's machines (asynchronous)");
        return app;
    }

    private static async Task<Results<Created<VolumeView>, ProblemHttpResult>> CreateVolume(
        CreateVolumeRequest request, Caller caller, VolumeService volumes, HttpContext context, CancellationToken ct) =>
        (await volumes.CreateAsync(caller, request, context.Once<VolumeView>(StatusCodes.Status201Created, VolumeLocation), ct)).ToCreated(context, VolumeLocation);

    private static string VolumeLocation(VolumeView volume) => $"/api/v1/volumes/{volume.Id}";

    private static async Task<Results<Ok<Page<VolumeView>>, ProblemHttpResult>> ListVolumes(
        [AsParameters] VolumeListQuery query, Caller caller, VolumeService volumes, HttpContext context, CancellationToken ct) =>
        (await volumes.ListAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<VolumeView>, ProblemHttpResult>> GetVolume(
        string id, Caller caller, VolumeService volumes, HttpContext context, CancellationToken ct) =>
        (await volumes.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<VolumeView>, ProblemHttpResult>> DeleteVolume(
        string id, Caller caller, VolumeService volumes, HttpContext context, CancellationToken ct, long? version = null) =>
        (await volumes.DeleteAsync(caller, id, new DeleteVolumeRequest(version), ct)).ToOk(context);

    private static async Task<Results<Accepted<AcceptedView<VolumeView>>, ProblemHttpResult>> AttachVolume(
        string id, AttachVolumeRequest request, Caller caller, VolumeService volumes, HttpContext context, CancellationToken ct) =>
        (await volumes.AttachAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<Accepted<AcceptedView<VolumeView>>, ProblemHttpResult>> DetachVolume(
        string id, DetachVolumeRequest request, Caller caller, VolumeService volumes, HttpContext context, CancellationToken ct) =>
        (await volumes.DetachAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<Created<NetworkView>, ProblemHttpResult>> CreateNetwork(
        CreateNetworkRequest request, Caller caller, NetworkService networks, HttpContext context, CancellationToken ct) =>
        (await networks.CreateAsync(caller, request, context.Once<NetworkView>(StatusCodes.Status201Created, NetworkLocation), ct)).ToCreated(context, NetworkLocation);

    private static string NetworkLocation(NetworkView network) => $"/api/v1/networks/{network.Id}";

    private static async Task<Results<Ok<Page<NetworkView>>, ProblemHttpResult>> ListNetworks(
        [AsParameters] NetworkListQuery query, Caller caller, NetworkService networks, HttpContext context, CancellationToken ct) =>
        (await networks.ListAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<NetworkView>, ProblemHttpResult>> GetNetwork(
        string id, Caller caller, NetworkService networks, HttpContext context, CancellationToken ct) =>
        (await networks.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<NetworkView>, ProblemHttpResult>> DeleteNetwork(
        string id, Caller caller, NetworkService networks, HttpContext context, CancellationToken ct, long? version = null) =>
        (await networks.DeleteAsync(caller, id, version, ct)).ToOk(context);

    private static async Task<Results<Accepted<AcceptedView<NetworkView>>, ProblemHttpResult>> Connect(
        string id, ConnectNetworkRequest request, Caller caller, NetworkService networks, HttpContext context, CancellationToken ct) =>
        (await networks.ConnectAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<Accepted<AcceptedView<NetworkView>>, ProblemHttpResult>> Disconnect(
        string id, DisconnectNetworkRequest request, Caller caller, NetworkService networks, HttpContext context, CancellationToken ct) =>
        (await networks.DisconnectAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<Accepted<AcceptedView<MachineView>>, ProblemHttpResult>> ConfigureMachine(
        string id, ConfigurationRequest request, Caller caller, PropertyService properties, HttpContext context, CancellationToken ct) =>
        (await properties.ConfigureMachineAsync(caller, id, request, ct)).ToAccepted(context);

    private static async Task<Results<Accepted<AcceptedView<InstanceView>>, ProblemHttpResult>> ConfigureInstance(
        string id, ConfigurationRequest request, Caller caller, PropertyService properties, HttpContext context, CancellationToken ct) =>
        (await properties.ConfigureInstanceAsync(caller, id, request, ct)).ToAccepted(context);
}
