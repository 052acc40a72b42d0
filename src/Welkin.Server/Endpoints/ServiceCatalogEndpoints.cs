using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// Service Catalog: templates (developers), offerings (catalog managers) and the public catalog
/// of published offerings that anyone may browse. Endpoint names are the audit actions.
/// </summary>
public static class ServiceCatalogEndpoints
{
    public static IEndpointRouteBuilder MapServiceCatalog(this IEndpointRouteBuilder app)
    {
        var templates = app.MapInterface("/api/v1/templates", "Service Catalog");
        templates.MapGet("/", ListTemplates).WithName("template.list");
        templates.MapPost("/", CreateTemplate).WithName("template.create");
        templates.MapGet("/{id}", GetTemplate).WithName("template.get");
        templates.MapPut("/{id}", UpdateTemplate).WithName("template.update");
        templates.MapGet("/{id}/versions", ListTemplateVersions).WithName("template.version-list");
        templates.MapPost("/{id}/versions", NewTemplateVersion).WithName("template.new-version");
        templates.MapGet("/{id}/versions/{n}", GetTemplateVersion).WithName("template.version-get");
        templates.MapPost("/{id}/publish", PublishTemplate).WithName("template.publish");
        templates.MapPost("/{id}/retire", RetireTemplate).WithName("template.retire");

        var offerings = app.MapInterface("/api/v1/offerings", "Service Catalog");
        offerings.MapGet("/", ListOfferings).WithName("offering.list");
        offerings.MapPost("/", CreateOffering).WithName("offering.create");
        offerings.MapGet("/{id}", GetOffering).WithName("offering.get");
        offerings.MapPut("/{id}", UpdateOffering).WithName("offering.update");
        offerings.MapPost("/{id}/publish", PublishOffering).WithName("offering.publish");
        offerings.MapPost("/{id}/withdraw", WithdrawOffering).WithName("offering.withdraw");

        var catalog = app.MapAnonymousInterface("/api/v1/catalog/offerings", "Service Catalog");
        catalog.MapGet("/", ListCatalog).WithName("catalog.offering-list");
        catalog.MapGet("/{id}", GetCatalogOffering).WithName("catalog.offering-get");
        return app;
    }

    private static async Task<Results<Ok<Page<TemplateView>>, ProblemHttpResult>> ListTemplates(
        Caller caller, TemplateService templates, HttpContext context, CancellationToken ct,
        string? state = null, string? namePrefix = null, string? after = null, int limit = 100) =>
        (await templates.ListAsync(caller, state, namePrefix, after, limit, ct)).ToOk(context);

    private static async Task<Results<Created<TemplateView>, ProblemHttpResult>> CreateTemplate(
        TemplateSpec spec, Caller caller, TemplateService templates, HttpContext context, CancellationToken ct) =>
        (await templates.CreateAsync(caller, spec, ct)).ToCreated(context, t => $"/api/v1/templates/{t.Id}");

    private static async Task<Results<Ok<TemplateView>, ProblemHttpResult>> GetTemplate(
        string id, Caller caller, TemplateService templates, HttpContext context, CancellationToken ct) =>
        (await templates.GetAsync(caller, id, null, ct)).ToOk(context);

    private static async Task<Results<Ok<TemplateView>, ProblemHttpResult>> UpdateTemplate(
        string id, UpdateTemplateRequest request, Caller caller, TemplateService templates, HttpContext context, CancellationToken ct) =>
        (await templates.UpdateAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<Page<TemplateView>>, ProblemHttpResult>> ListTemplateVersions(
        string id, Caller caller, TemplateService templates, HttpContext context, CancellationToken ct) =>
        (await templates.ListVersionsAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Created<TemplateView>, ProblemHttpResult>> NewTemplateVersion(
        string id, NewTemplateVersionRequest? request, Caller caller, TemplateService templates, HttpContext context, CancellationToken ct) =>
        (await templates.NewVersionAsync(caller, id, request ?? new NewTemplateVersionRequest(), ct))
            .ToCreated(context, t => $"/api/v1/templates/{t.Id}/versions/{t.TemplateVersion}");

    private static async Task<Results<Ok<TemplateView>, ProblemHttpResult>> GetTemplateVersion(
        string id, string n, Caller caller, TemplateService templates, HttpContext context, CancellationToken ct)
    {
        if (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var templateVersion) || templateVersion < 1)
        {
            return Problems.From(new Error("invalid-id", ErrorKind.Validation, "A template version is a whole number, 1 or more."), context);
        }
        return (await templates.GetAsync(caller, id, templateVersion, ct)).ToOk(context);
    }

    private static async Task<Results<Ok<TemplateView>, ProblemHttpResult>> PublishTemplate(
        string id, TemplateTransitionRequest? request, Caller caller, TemplateService templates, HttpContext context, CancellationToken ct) =>
        (await templates.PublishAsync(caller, id, request ?? new TemplateTransitionRequest(), ct)).ToOk(context);

    private static async Task<Results<Ok<TemplateView>, ProblemHttpResult>> RetireTemplate(
        string id, TemplateTransitionRequest? request, Caller caller, TemplateService templates, HttpContext context, CancellationToken ct) =>
        (await templates.RetireAsync(caller, id, request ?? new TemplateTransitionRequest(), ct)).ToOk(context);

    private static async Task<Results<Ok<Page<OfferingView>>, ProblemHttpResult>> ListOfferings(
        Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct,
        string? state = null, string? namePrefix = null, string? after = null, int limit = 100) =>
        (await offerings.ListAsync(caller, state, namePrefix, after, limit, ct)).ToOk(context);

    private static async Task<Results<Created<OfferingView>, ProblemHttpResult>> CreateOffering(
        OfferingSpec spec, Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct) =>
        (await offerings.CreateAsync(caller, spec, ct)).ToCreated(context, o => $"/api/v1/offerings/{o.Id}");

    private static async Task<Results<Ok<OfferingView>, ProblemHttpResult>> GetOffering(
        string id, Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct) =>
        (await offerings.GetAsync(caller, id, ct)).ToOk(context);

    private static async Task<Results<Ok<OfferingView>, ProblemHttpResult>> UpdateOffering(
        string id, UpdateOfferingRequest request, Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct) =>
        (await offerings.UpdateAsync(caller, id, request, ct)).ToOk(context);

    private static async Task<Results<Ok<OfferingView>, ProblemHttpResult>> PublishOffering(
        string id, OfferingTransitionRequest? request, Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct) =>
        (await offerings.PublishAsync(caller, id, request ?? new OfferingTransitionRequest(), ct)).ToOk(context);

    private static async Task<Results<Ok<OfferingView>, ProblemHttpResult>> WithdrawOffering(
        string id, OfferingTransitionRequest? request, Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct) =>
        (await offerings.WithdrawAsync(caller, id, request ?? new OfferingTransitionRequest(), ct)).ToOk(context);

    private static async Task<Results<Ok<Page<OfferingView>>, ProblemHttpResult>> ListCatalog(
        Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct,
        string? namePrefix = null, string? after = null, int limit = 100) =>
        (await offerings.ListPublishedAsync(caller, namePrefix, after, limit, ct)).ToOk(context);

    private static async Task<Results<Ok<OfferingView>, ProblemHttpResult>> GetCatalogOffering(
        string id, Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct) =>
        (await offerings.GetPublishedAsync(caller, id, ct)).ToOk(context);
}
