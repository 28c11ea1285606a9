using System.Net;
using System.Text.Json.Nodes;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// What every administrator-set tenant setting promises alike: a bad value is refused with 400
/// naming its field and changes nothing (neither the tenant it was aimed at nor a tenant created
/// with it), and the OpenAPI document lists the setting on the update body and the tenant view.
/// </summary>
internal static class TenantSettingChecks
{
    /// <summary>
    /// Sets <paramref name="knownGood"/> on a fresh tenant, sends <paramref name="body"/> by
    /// <paramref name="method"/> (PATCH to that tenant; POST creates a tenant named in place of
    /// NAME), and checks the refusal, that <paramref name="kept"/> still holds of the tenant, and
    /// that no tenant of that name exists.
    /// </summary>
    public static async Task AssertRefusedAndNothingChangedAsync(
        ControllerHost host, string method, string body, string field, string knownGood, Action<TenantView> kept)
    {
        using var admin = host.AdminClient();
        var tenant = await host.CreateTenantAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson(knownGood))).StatusCode);
        var name = $"bad-{Guid.NewGuid():N}";

        var response = method == "PATCH"
            ? await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson(body))
            : await admin.PostAsync("/tenants", Api.RawJson(body.Replace("NAME", name, StringComparison.Ordinal)));

        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(field, error.Error, StringComparison.Ordinal);
        kept(await Api.ReadAsync(await admin.GetAsync($"/tenants/{tenant.TenantId}"), Api.Json.TenantView));
        Assert.False(await AnyTenantNamedAsync(admin, name), $"a tenant named {name} was created");
    }

    /// <summary>The tenant's own key sending <paramref name="body"/> is refused, and <paramref name="unchanged"/> still holds of it.</summary>
    public static async Task AssertTenantCannotSetAsync(ControllerHost host, string body, Action<TenantView> unchanged)
    {
        var (tenant, client) = await host.TenantClientAsync();
        var response = await client.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson(body));
        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, $"got {(int)response.StatusCode}");
        using var admin = host.AdminClient();
        unchanged(await Api.ReadAsync(await admin.GetAsync($"/tenants/{tenant.TenantId}"), Api.Json.TenantView));
    }

    /// <summary>Every page of the tenant list, so the answer does not depend on how many tenants other tests made.</summary>
    private static async Task<bool> AnyTenantNamedAsync(HttpClient admin, string name)
    {
        string? cursor = null;
        do
        {
            var page = await Api.ReadAsync(await admin.GetAsync("/tenants?limit=1000" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}")),
                Api.Json.TenantList);
            if (page.Tenants.Any(t => t.Name == name)) return true;
            cursor = page.NextCursor;
        } while (cursor is not null);
        return false;
    }

    /// <summary>The served OpenAPI document, and a reader of a schema that follows its reference.</summary>
    public static async Task<(JsonObject Document, Func<JsonNode, JsonObject> Schema)> OpenApiAsync(ControllerHost host)
    {
        using var anonymous = host.Client();
        var document = JsonNode.Parse(await anonymous.GetStringAsync("/openapi.json"))!.AsObject();
        var schemas = document["components"]!["schemas"]!.AsObject();
        return (document, schema => schema["$ref"]?.GetValue<string>() is { } reference
            ? schemas[reference["#/components/schemas/".Length..]]!.AsObject()
            : schema.AsObject());
    }

    /// <summary>Each field is a property of the PATCH /tenants/{id} body and of the tenant view.</summary>
    public static async Task AssertDocumentedAsync(ControllerHost host, params string[] fields)
    {
        var (document, schema) = await OpenApiAsync(host);
        var tenant = document["paths"]!["/tenants/{id}"]!;
        var patch = schema(tenant["patch"]!["requestBody"]!["content"]!["application/json"]!["schema"]!);
        var view = schema(tenant["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!);
        foreach (var field in fields)
        {
            Assert.Contains(field, patch["properties"]!.AsObject().Select(p => p.Key));
            Assert.Contains(field, view["properties"]!.AsObject().Select(p => p.Key));
        }
    }
}
