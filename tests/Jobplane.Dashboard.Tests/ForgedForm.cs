namespace Jobplane.Dashboard.Tests;

/// <summary>
/// A form the dashboard never rendered, posted by the browser from the page it is on: built in that
/// page's DOM and submitted, so that it carries what any form of the page would (the session cookie,
/// the page's Origin) and, unless told otherwise, the session's own CSRF token read from the page.
/// What a user could forge with the developer tools open: valid credentials, someone else's ids.
/// </summary>
public static class ForgedForm
{
    private const string Submit = """
        ({ action, fields, withToken }) => {
          const form = document.createElement('form');
          form.method = 'post';
          form.action = action;
          const add = (name, value) => {
            const input = document.createElement('input');
            input.type = 'hidden';
            input.name = name;
            input.value = value;
            form.appendChild(input);
          };
          if (withToken) add('csrf', document.querySelector('input[name="csrf"]').value);
          for (const [name, value] of fields) add(name, value);
          document.body.appendChild(form);
          window.__forged = true;
          // submit() fires no submit event: no confirmation dialog is asked for.
          form.submit();
        }
        """;

    /// <summary>
    /// Posts <paramref name="fields"/> to <paramref name="action"/> and returns the answer to the POST
    /// itself (a 303 when it redirected), once the page shows the document it led to.
    /// </summary>
    public static async Task<IResponse> PostAsync(IPage page, string action, IEnumerable<(string Name, string Value)>? fields = null, bool withToken = true)
    {
        var pairs = (fields ?? []).Select(f => new[] { f.Name, f.Value }).ToArray();
        // The document the form ends on: the POST's own answer, or the one its redirect leads to.
        var final = await page.RunAndWaitForResponseAsync(
            () => page.EvaluateAsync(Submit, new { action, fields = pairs, withToken }),
            r => r.Request.IsNavigationRequest && r.Frame == page.MainFrame && r.Status is < 300 or >= 400);
        // The form's page marked itself (window.__forged); the page is the new document once the mark is gone.
        await page.WaitForFunctionAsync("() => window.__forged === undefined && document.readyState === 'complete'");
        var first = final.Request;
        while (first.RedirectedFrom is { } earlier) first = earlier;
        return await first.ResponseAsync() ?? final;
    }
}
