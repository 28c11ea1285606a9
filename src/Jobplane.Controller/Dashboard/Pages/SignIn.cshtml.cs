using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// Sign-in. The form carries a token that must match a SameSite=Strict cookie set with it, so another
/// site cannot sign a browser in under the attacker's key (login CSRF); failures count against the
/// address exactly as failed API authentications do.
/// </summary>
[AnonymousPage]
public sealed class SignInModel(DashboardSessions sessions) : PageModel
{
    private const string PreSignCookie = "jp_presign";

    public string? Error { get; private set; }
    public string Return { get; private set; } = "/ui";
    public string PreSignToken { get; private set; } = "";

    public void OnGet([FromQuery(Name = "return")] string? returnTo)
    {
        Return = SeeOther.Local(returnTo);
        IssuePreSignToken();
    }

    public async Task<IActionResult> OnPostAsync([FromForm] string? key, [FromForm(Name = "return")] string? returnTo,
        [FromForm] string? presign, CancellationToken ct)
    {
        Return = SeeOther.Local(returnTo);
        var expected = Request.Cookies[PreSignCookie];
        if (expected is null || presign is null
            || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(presign)))
        {
            Response.StatusCode = 403;
            Error = "This sign-in form is stale or came from another site; try again.";
            IssuePreSignToken();
            return Page();
        }
        var (result, retryAfter) = await sessions.SignInAsync(HttpContext, key, ct);
        switch (result)
        {
            case DashboardSessions.SignInResult.SignedIn:
                Response.Cookies.Delete(PreSignCookie, new CookieOptions { Path = "/ui/signin" });
                return new SeeOther(Return);
            case DashboardSessions.SignInResult.Throttled or DashboardSessions.SignInResult.RateLimited:
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                Response.StatusCode = 429;
                Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                Error = result == DashboardSessions.SignInResult.Throttled
                    ? $"Too many failed sign-ins from this address; try again in {seconds} s."
                    : $"This key's request rate limit is reached; try again in {seconds} s.";
                break;
            default:
                Response.StatusCode = 401;
                Error = "That key was not accepted: it is unknown, revoked or expired.";
                break;
        }
        IssuePreSignToken();
        return Page();
    }

    private void IssuePreSignToken()
    {
        PreSignToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        Response.Cookies.Append(PreSignCookie, PreSignToken, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = Request.IsHttps,
            Path = "/ui/signin",
            MaxAge = TimeSpan.FromHours(1),
            IsEssential = true,
        });
    }
}
