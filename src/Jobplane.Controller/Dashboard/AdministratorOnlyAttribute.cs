using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// Marks a page only the administrator may see or act on: a tenant's session gets 404 on every GET
/// and POST of it, as for anything it may not know exists. Runs after <see cref="DashboardPageFilter"/>
/// (which resolves the viewer, and answers for a missing session or a bad CSRF token), before any handler.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class AdministratorOnlyAttribute : Attribute, IAsyncPageFilter, IOrderedFilter
{
    /// <summary>After DashboardPageFilter (order 0), which sets the viewer.</summary>
    public int Order => 1;

    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        if (context.HttpContext.Items[typeof(Viewer)] is not Viewer { IsAdministrator: true })
        {
            context.Result = new NotFoundResult();
            return Task.CompletedTask;
        }
        return next();
    }
}
