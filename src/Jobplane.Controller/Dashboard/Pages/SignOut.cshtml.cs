using Microsoft.AspNetCore.Mvc;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>Ends the session: its row is deleted, so the cookie is worthless even if it were kept.</summary>
public sealed class SignOutModel(DashboardSessions sessions) : DashboardPage
{
    public void OnGet()
    {
    }

    [AllowedReadOnly]
    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        await sessions.SignOutAsync(HttpContext, ct);
        return new SeeOther("/ui/signin");
    }
}
