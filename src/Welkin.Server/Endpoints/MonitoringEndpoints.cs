using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Monitoring;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Service Monitor: measured series of machines, instances and contracts, and the simulated load
/// operators set on machines and instances.
/// </summary>
public static class MonitoringEndpoints
{
    public static IEndpointRouteBuilder MapMonitoring(this IEndpointRouteBuilder app)
    {
        var api = app.MapInterface("/api/v1", "Service Monitor");
        api.MapGet("/machines/{id}/measurements", Machine).WithName("machine.measurements").WithSummary("Get a machine's measurement series");
        api.MapGet("/instances/{id}/measurements", Instance).WithName("instance.measurements").WithSummary("Get the measurement series of every machine an instance has had");
        api.MapGet("/contracts/{id}/measurements", Contract).WithName("contract.measurements").WithSummary("Get the measurement series of every machine a contract has had");

        var fabric = app.MapInterface("/api/v1/fabric", "Fabric");
        fabric.MapPut("/machines/{id}/load", MachineLoad).WithName("fabric.machine-load").WithSummary("Set a machine's simulated load (simulated fabric, operators)");
        fabric.MapPut("/instances/{id}/load", InstanceLoad).WithName("fabric.instance-load").WithSummary("Set the simulated load of an instance's machines (simulated fabric, operators)");
        return app;
    }

    private static async Task<Results<Ok<MeasurementSeriesView>, ProblemHttpResult>> Machine(
        string id, Caller caller, ServiceMonitor monitor, HttpContext context, CancellationToken ct,
        string? metric = null, DateTimeOffset? from = null, DateTimeOffset? to = null, string? resolution = null, string? aggregation = null) =>
        (await monitor.MachineAsync(caller, id, new MeasurementArgs(metric, from, to, resolution, aggregation), ct)).ToOk(context);

    private static async Task<Results<Ok<MeasurementSeriesView>, ProblemHttpResult>> Instance(
        string id, Caller caller, ServiceMonitor monitor, HttpContext context, CancellationToken ct,
        string? metric = null, DateTimeOffset? from = null, DateTimeOffset? to = null, string? resolution = null, string? aggregation = null) =>
        (await monitor.InstanceAsync(caller, id, new MeasurementArgs(metric, from, to, resolution, aggregation), ct)).ToOk(context);

    private static async Task<Results<Ok<MeasurementSeriesView>, ProblemHttpResult>> Contract(
        string id, Caller caller, ServiceMonitor monitor, HttpContext context, CancellationToken ct,
        string? metric = null, DateTimeOffset? from = null, DateTimeOffset? to = null, string? resolution = null, string? aggregation = null) =>
        (await monitor.ContractAsync(caller, id, new MeasurementArgs(metric, from, to, resolution, aggregation), ct)).ToOk(context);

    private static async Task<Results<Ok<LoadView>, ProblemHttpResult>> MachineLoad(
        string id, LoadRequest request, Caller caller, ServiceMonitor monitor, HttpContext context, CancellationToken ct) =>
        (await monitor.SetMachineLoadAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<LoadView>, ProblemHttpResult>> InstanceLoad(
        string id, LoadRequest request, Caller caller, ServiceMonitor monitor, HttpContext context, CancellationToken ct) =>
        (await monitor.SetInstanceLoadAsync(caller, id, request, ct)).ToOk(context);
}
