// Errors as OpenAI's API writes them (https://platform.openai.com/docs/guides/error-codes; the `openai` client reads
// `{"error": {"message", "type", "param", "code"}}` from any 4xx/5xx), and the middleware that renders every
// failure of a route that way, 503s with Retry-After.

import Foundation
import Hummingbird
import Logging
import NIOCore

/// OpenAI's error document.
struct OpenAIErrorBody: Codable, Equatable {
    struct Detail: Codable, Equatable {
        var message: String
        var type: String
        var param: String?
        var code: String?
    }
    var error: Detail
}

extension ServerError {
    /// The error JSON body.
    var jsonBody: [UInt8] {
        let body = OpenAIErrorBody(error: .init(message: message, type: errorType, param: nil, code: code))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(body)) ?? Data("{}".utf8))
    }

    /// The whole HTTP response.
    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if case .busy(let seconds) = self { headers[.retryAfter] = "\(seconds)" }
        if case .unauthorized = self { headers[.wwwAuthenticate] = "Bearer" }
        return Response(
            status: HTTPResponse.Status(code: httpStatus), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBody)))
    }

    /// The server error for any failure of a route.
    static func from(_ error: any Error) -> ServerError {
        switch error {
        case let e as ServerError: return e
        case let e as MultipartError: return .badRequest(e.description)
        case is NIOTooManyBytesError: return .tooLarge("the request body is larger than the server takes")
        case let e as HTTPError:
            let message = e.body ?? e.status.reasonPhrase
            switch e.status.code {
            case 404, 405: return .notFound(message)
            case 413: return .tooLarge(message)
            case 401: return .unauthorized
            case 400..<500: return .badRequest(message)
            default: return .internalFailure(message)
            }
        case is DecodingError: return .badRequest("the request body is not the JSON expected: \(describe(error))")
        case is CancellationError: return .internalFailure("the request was cancelled")
        default: return .internalFailure("\(error)")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))': \(c.debugDescription)"
        case DecodingError.dataCorrupted(let c): c.debugDescription
        default: "\(error)"
        }
    }
}

/// Renders every error of the routes behind it as OpenAI's error JSON (5xx logged).
struct OpenAIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let serverError = ServerError.from(error)
            if serverError.httpStatus >= 500 && serverError.httpStatus != 503 {
                logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            } else {
                logger.info("\(request.method) \(request.uri.path): \(serverError.httpStatus) \(serverError.message)")
            }
            return serverError.response
        }
    }
}

/// Requires `Authorization: Bearer KEY` on the routes behind it.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let given = request.headers[.authorization] ?? ""
        let expected = "Bearer " + apiKey
        guard Self.constantTimeEqual(Array(given.utf8), Array(expected.utf8)) else { throw ServerError.unauthorized }
        return try await next(request, context)
    }

    /// Compares without an early exit, so timing does not tell how much of a guessed key was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
