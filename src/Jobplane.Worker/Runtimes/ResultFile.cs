using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Jobplane.Api;
using Microsoft.Win32.SafeHandles;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// Reads the result.json a job leaves in its working directory. The file is written by untrusted
/// job code, so it is never followed when it is a symbolic link (it could point at a worker
/// secret), never opened when it is not a regular file (a FIFO would block the worker, a device
/// could have side effects), and never read past the size limit (a stat size can lie while the
/// file grows, so the read itself is bounded).
/// </summary>
internal static class ResultFile
{
    public const string FileName = "result.json";

    /// <summary>Either a result (null when the job wrote none) or an error explaining the refusal.</summary>
    public readonly record struct Outcome(JsonElement? Result, string? Error);

    public static Outcome Read(string workDirectory, int maxBytes = Wire.MaxResultBytes)
    {
        var path = Path.Combine(workDirectory, FileName);

        // Look at the entry itself first so that nothing but a regular file is ever opened.
        var errno = LibC.LStat(path, out var type, out _);
        if (errno == LibC.ENOENT) return new(null, null);
        if (errno != 0) return Refuse($"{FileName} cannot be inspected: {LibC.Describe(errno)}");
        if (type != LibC.S_IFREG) return Refuse(NotRegular(type));

        // O_NOFOLLOW|O_NONBLOCK closes the race with a process swapping the file after the check.
        var fd = LibC.OpenNoFollow(path, out errno);
        if (fd < 0)
        {
            return errno switch
            {
                LibC.ENOENT => new(null, null),
                LibC.ELOOP => Refuse(NotRegular(LibC.S_IFLNK)),
                _ => Refuse($"{FileName} cannot be opened: {LibC.Describe(errno)}"),
            };
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        errno = LibC.FStat(fd, out type, out var statSize);
        if (errno != 0) return Refuse($"{FileName} cannot be inspected: {LibC.Describe(errno)}");
        if (type != LibC.S_IFREG) return Refuse(NotRegular(type));

        var buffer = ArrayPool<byte>.Shared.Rent(maxBytes + 1);
        try
        {
            return Parse(handle, buffer, maxBytes, statSize);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static Outcome Parse(SafeFileHandle handle, byte[] buffer, int maxBytes, long statSize)
    {
        var limit = maxBytes + 1;
        var total = 0;
        while (total < limit)
        {
            var n = RandomAccess.Read(handle, buffer.AsSpan(total, limit - total), total);
            if (n == 0) break;
            total += n;
        }
        if (total > maxBytes)
        {
            // Only maxBytes+1 bytes were read; the stat size tells how much larger it really is.
            var size = Math.Max(statSize, total);
            return Refuse(string.Create(CultureInfo.InvariantCulture,
                $"{FileName} is {size} bytes, over the {maxBytes}-byte limit"));
        }

        try
        {
            // Clone: the element must outlive the document and the pooled buffer it was parsed from.
            using var document = JsonDocument.Parse(buffer.AsMemory(0, total));
            return new(document.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return Refuse($"{FileName} is not valid JSON: {ex.Message}");
        }
    }

    private static Outcome Refuse(string error) => new(null, error);

    private static string NotRegular(int type) => type switch
    {
        LibC.S_IFLNK => $"{FileName} is a symbolic link; refusing to follow it",
        LibC.S_IFDIR => $"{FileName} is a directory, not a regular file",
        LibC.S_IFIFO => $"{FileName} is a named pipe, not a regular file",
        LibC.S_IFSOCK => $"{FileName} is a socket, not a regular file",
        LibC.S_IFCHR or LibC.S_IFBLK => $"{FileName} is a device, not a regular file",
        _ => $"{FileName} is not a regular file",
    };
}
