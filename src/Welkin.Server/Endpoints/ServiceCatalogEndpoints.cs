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
        templates.MapGet("/", ListTemplates).WithName("template.list").WithSummary("List the latest version of each template");
        templates.MapPost("/", CreateTemplate).WithName("template.create").WithSummary("Create a template as draft version 1");
        templates.MapGet("/{id}", GetTemplate).WithName("template.get").WithSummary("Get a template's latest version");
        templates.MapPut("/{id}", UpdateTemplate).WithName("template.update").WithSummary("Replace the spec of a template's latest version, a draft");
        templates.MapGet("/{id}/versions", ListTemplateVersions).WithName("template.version-list").WithSummary("List every version of a template, oldest first");
        templates.MapPost("/{id}/versions", NewTemplateVersion).WithName("template.new-version").WithSummary("Open a template's next version as a draft");
        templates.MapGet("/{id}/versions/{n}", GetTemplateVersion).WithName("template.version-get").WithSummary("Get one version of a template");
        templates.MapPost("/{id}/publish", PublishTemplate).WithName("template.publish").WithSummary("Publish a template's draft version");
        templates.MapPost("/{id}/retire", RetireTemplate).WithName("template.retire").WithSummary("Retire a template's published version");

        var offerings = app.MapInterface("/api/v1/offerings", "Service Catalog");
        offerings.MapGet("/", ListOfferings).WithName("offering.list").WithSummary("List offerings in every state");
        offerings.MapPost("/", CreateOffering).WithName("offering.create").WithSummary("Create an offering as a draft");
        offerings.MapGet("/{id}", GetOffering).WithName("offering.get").WithSummary("Get one offering");
        offerings.MapPut("/{id}", UpdateOffering).WithName("offering.update").WithSummary("Replace the spec of a draft offering");
        offerings.MapPost("/{id}/publish", PublishOffering).WithName("offering.publish").WithSummary("Publish a draft offering in the catalog");
        offerings.MapPost("/{id}/withdraw", WithdrawOffering).WithName("offering.withdraw").WithSummary("Withdraw a published offering from the catalog");

        var catalog = app.MapAnonymousInterface("/api/v1/catalog/offerings", "Service Catalog");
        catalog.MapGet("/", ListCatalog).WithName("catalog.offering-list").WithSummary("List the published offerings (no token needed)");
        catalog.MapGet("/{id}", GetCatalogOffering).WithName("catalog.offering-get").WithSummary("Get one published offering (no token needed)");
        return app;
    }

    private static async Task<Results<Ok<Page<TemplateView>>, ProblemHttpResult>> ListTemplates(
        [AsParameters] TemplateListQuery query, Caller caller, TemplateService templates, HttpContext context, CancellationToken ct) =>
        (await templates.ListAsync(caller, query, ct)).ToOk(context);

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
        [AsParameters] OfferingListQuery query, Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct) =>
        (await offerings.ListAsync(caller, query, ct)).ToOk(context);

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
        [AsParameters] CatalogListQuery query, Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct) =>
        (await offerings.ListPublishedAsync(caller, query, ct)).ToOk(context);

    private static async Task<Results<Ok<OfferingView>, ProblemHttpResult>> GetCatalogOffering(
        string id, Caller caller, OfferingService offerings, HttpContext context, CancellationToken ct) =>
        (await offerings.GetPublishedAsync(caller, id, ct)).ToOk(context);
}
