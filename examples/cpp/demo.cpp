// The quick-start demo in C++: submit a PDF, poll with a progress line per attempt, save every
// result, print the text result.
//
//   demo BASE_URL PDF OUTPUT_DIR
//
// The results are saved into OUTPUT_DIR (made if missing); without arguments it prints its usage.
// Credentials come from OCR_CLIENT_ID / OCR_CLIENT_SECRET (the emulator's: demo / demo-secret).
// Build: g++ -std=c++17 demo.cpp -Iinclude -Ltarget/release -locrcloud
// -Wl,-rpath,$PWD/target/release
#include "ocrcloud.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

static std::string extension(std::string_view type) {
    if (type == "Text") return "txt";
    if (type == "Pdf") return "pdf";
    if (type == "Hocr") return "html";
    if (type == "JSON") return "json";
    return "bin";
}

int main(int argc, char **argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " BASE_URL PDF OUTPUT_DIR\n";
        return 2;
    }
    const std::string pdf = argv[2];
    const std::string output_dir = argv[3];
    const char *id = std::getenv("OCR_CLIENT_ID") ? std::getenv("OCR_CLIENT_ID") : "demo";
    const char *secret =
        std::getenv("OCR_CLIENT_SECRET") ? std::getenv("OCR_CLIENT_SECRET") : "demo-secret";
    try {
        auto client = ocrcloud::Client::with_credentials(argv[1], id, secret);
        std::string task_id = client.submit_file(
            pdf, "RecognizePdf", R"({"language":"English","resultType":"TextAndPdf"})");
        std::cout << "submitted " << pdf << " as task " << task_id << "\n";

        ocrcloud::PollOptions options;
        options.interval_ms(250).backoff(1.5, 2000).timeout_ms(60000).progress(
            [](std::string_view task, ocr_task_status status, std::uint32_t attempt) {
                std::cout << "  poll " << (attempt < 10 ? " " : "") << attempt << ": task "
                          << task << " is " << ocr_task_status_name(status) << std::endl;
            });
        ocrcloud::Result result = client.poll(task_id, options);
        std::filesystem::create_directories(output_dir);
        for (std::size_t i = 0; i < result.count(); i++) {
            std::string path =
                output_dir + "/" + task_id + "." + extension(result.type(i));
            result.save(i, path);
            std::cout << "saved " << result.type(i) << " result (" << result.data(i).size()
                      << " bytes) to " << path << "\n";
            if (result.type(i) == "Text") {
                std::cout << "---- recognized text ----\n"
                          << result.data(i) << "-------------------------\n";
            }
        }
    } catch (const std::exception &error) { // ocrcloud::Error, or a folder that cannot be made
        std::cerr << "failed: " << error.what() << "\n";
        return 1;
    }
    return 0;
}
