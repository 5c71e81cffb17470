// app BASE_URL PDF OUTPUT_DIR: submits PDF, polls with a progress line per answer, saves every
// result as OUTPUT_DIR/<task id>.<txt|pdf> and prints the text. Credentials: OCR_CLIENT_ID and
// OCR_CLIENT_SECRET.
#include "ocrcloud.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

int main(int argc, char **argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " BASE_URL PDF OUTPUT_DIR\n";
        return 2;
    }
    const char *id = std::getenv("OCR_CLIENT_ID");
    const char *secret = std::getenv("OCR_CLIENT_SECRET");
    try {
        auto client =
            ocrcloud::Client::with_credentials(argv[1], id ? id : "", secret ? secret : "");
        std::string task_id = client.submit_file(
            argv[2], "RecognizePdf", R"({"language":"English","resultType":"TextAndPdf"})");
        ocrcloud::PollOptions options;
        options.interval_ms(250).timeout_ms(60000).progress(
            [](std::string_view task, ocr_task_status status, std::uint32_t attempt) {
                std::cout << "poll " << attempt << ": task " << task << " is "
                          << ocr_task_status_name(status) << "\n";
            });
        ocrcloud::Result result = client.poll(task_id, options);
        std::filesystem::path folder = argv[3];
        std::filesystem::create_directories(folder);
        for (std::size_t i = 0; i < result.count(); i++) {
            bool text = result.type(i) == "Text";
            std::string path = (folder / (task_id + (text ? ".txt" : ".pdf"))).string();
            result.save(i, path);
            std::cout << "saved " << path << " (" << result.data(i).size() << " bytes)\n";
            if (text) std::cout << result.data(i);
        }
    } catch (const std::exception &error) {  // ocrcloud::Error, or the folder cannot be made
        std::cerr << "failed: " << error.what() << "\n";
        return 1;
    }
    return 0;
}
